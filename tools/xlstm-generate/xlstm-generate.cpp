//===- xlstm-generate.cpp - Text in, text out -----------------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Generates text with a compiled model: the prompt is tokenized
// (tokenizer.json), prefilled, and tokens are sampled one at a time until
// --max-new-tokens, the end-of-sequence token or a --stop string, each row
// of a batch on its own. With one prompt the text streams to stdout as it
// is produced; prompt and decode throughput go to stderr.
//
//   xlstm-generate MODEL --weights W --tokenizer tokenizer.json --prompt "..."
//
// MODEL is a bundle (run on the GPU, states on the device) or, in builds
// with the compiler, a config / Hugging Face folder / bundle run on the
// float64 reference device (--device=reference: slow, for checking).
//
//===----------------------------------------------------------------------===//

#include "xlstm/Bundle/Bundle.h"
#include "xlstm/Config/ConfigParser.h"
#include "xlstm/Runtime/GPUModel.h"
#include "xlstm/Runtime/Sampling.h"
#include "xlstm/Support/FatalErrors.h"
#include "xlstm/Tokenizer/Tokenizer.h"
#include "xlstm/Version.h"
#include "xlstm/Weights/ParameterBinding.h"

#if XLSTM_HAVE_REFERENCE
#include "xlstm/InitAll.h"
#include "xlstm/Reference/ReferenceModel.h"
#include "mlir/IR/MLIRContext.h"
#endif

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

using namespace xlstm;
namespace cl = llvm::cl;

namespace {
enum class Device { Cuda, Reference };

cl::OptionCategory category("xlstm-generate options");
cl::opt<std::string> modelPath(cl::Positional, cl::Required,
                               cl::desc("<bundle .xlstmb | config | model "
                                        "folder>"),
                               cl::cat(category));
cl::opt<std::string> weightsPath(
    "weights",
    cl::desc("Checkpoint: .safetensors, model.safetensors.index.json or a "
             "folder (default: MODEL when it is a folder)"),
    cl::cat(category));
cl::opt<std::string> tokenizerPath("tokenizer",
                                   cl::desc("Hugging Face tokenizer.json"),
                                   cl::cat(category));
cl::opt<std::string> prompt("prompt", cl::desc("The prompt text"),
                            cl::cat(category));
cl::opt<std::string> promptFile("prompt-file",
                                cl::desc("Prompts, one per line"),
                                cl::cat(category));
cl::opt<bool> hostSampling(
    "host-sampling",
    cl::desc("Choose tokens on the host from logits copied back every step "
             "(default: on the GPU, when the bundle has the sampling "
             "program; the same tokens either way)"),
    cl::init(false), cl::cat(category));
cl::opt<bool> batchPrompts(
    "batch-prompts",
    cl::desc("Decode the lines of --prompt-file together as one batch "
             "(else one after the other)"),
    cl::cat(category));
cl::opt<std::string> inputsPath(
    "inputs",
    cl::desc("Prompt token ids instead of text: the 'tokens' (batch, seq) "
             "tensor of a safetensors file"),
    cl::cat(category));
cl::opt<int64_t> maxNewTokens("max-new-tokens",
                              cl::desc("Tokens to generate per prompt"),
                              cl::init(64), cl::cat(category));
cl::opt<double> temperature("temperature",
                            cl::desc("Sampling temperature (0: greedy)"),
                            cl::init(0), cl::cat(category));
cl::opt<int64_t> topK("top-k", cl::desc("Keep the k most likely (0: all)"),
                      cl::init(0), cl::cat(category));
cl::opt<double> topP("top-p",
                     cl::desc("Keep the most likely tokens up to this "
                              "probability mass (1: all)"),
                     cl::init(1), cl::cat(category));
cl::opt<double> repetitionPenalty(
    "repetition-penalty",
    cl::desc("Divide (multiply) the positive (negative) logits of tokens "
             "already in the sequence by this (1: off)"),
    cl::init(1), cl::cat(category));
cl::opt<uint64_t> seed("seed", cl::desc("Seed of the sampler"), cl::init(0),
                       cl::cat(category));
cl::list<std::string> stops("stop",
                            cl::desc("Stop a row when its text ends with "
                                     "this (repeatable)"),
                            cl::cat(category));
cl::list<int64_t> eosIds("eos",
                         cl::desc("End-of-sequence token id (repeatable; "
                                  "default: the Hugging Face config's)"),
                         cl::cat(category));
cl::opt<int64_t> bosId("bos",
                       cl::desc("Insert this token before every prompt "
                                "(default: the Hugging Face config's when "
                                "force_bos_token_insert; -1: never)"),
                       cl::init(-2), cl::cat(category));
cl::opt<Device> device(
    "device", cl::desc("Where to run"),
    cl::values(clEnumValN(Device::Cuda, "cuda", "the GPU (bundles)"),
               clEnumValN(Device::Reference, "reference",
                          "the float64 reference device")),
    cl::init(Device::Cuda), cl::cat(category));
cl::opt<std::string> dtype("dtype", cl::desc("f32 or bf16 (GPU programs)"),
                           cl::init("bf16"), cl::cat(category));
cl::opt<std::string> outputPath(
    "output",
    cl::desc("Also write the generated ids as 'generated_tokens' (batch, "
             "max-new-tokens; rows that stopped early padded with -1)"),
    cl::cat(category));

int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "xlstm-generate") << message << "\n";
  return 1;
}
int fail(llvm::Error error) { return fail(llvm::toString(std::move(error))); }

/// What generation needs of a device: prefill one row, then steps of a
/// batch, logits as float32 rows.
class Model {
public:
  virtual ~Model() = default;
  virtual llvm::ArrayRef<weights::ParamDesc> params() const = 0;
  virtual llvm::Error setWeights(llvm::ArrayRef<weights::BoundTensor>) = 0;
  /// Prefills every prompt (rows may differ in length) into the batch
  /// state; `last` gets each row's last logits.
  virtual llvm::Error prefill(llvm::ArrayRef<std::vector<int64_t>> prompts,
                              std::vector<float> &last) = 0;
  virtual llvm::Error step(llvm::ArrayRef<int64_t> tokens,
                           std::vector<float> &logits) = 0;
  /// Sampling on the device after the prefill: `history` what each row has
  /// seen, `next` the tokens the next step feeds, `draws` each row's draws
  /// so far. Then `sampleNext` feeds `next` and overwrites it with the
  /// following tokens, without the logits leaving the device.
  virtual bool samplesOnDevice() const { return false; }
  virtual llvm::Error
  startDeviceSampling(const runtime::SamplingOptions &,
                      llvm::ArrayRef<std::vector<int64_t>>,
                      llvm::ArrayRef<int64_t>, uint64_t) {
    return llvm::createStringError("this device samples on the host");
  }
  virtual llvm::Error sampleNext(std::vector<int64_t> &) {
    return llvm::createStringError("this device samples on the host");
  }
};

class CudaModel : public Model {
public:
  static llvm::Expected<std::unique_ptr<CudaModel>>
  open(const bundle::Bundle &bundle, const config::ModelSpec &spec) {
    std::unique_ptr<CudaModel> m(new CudaModel());
    llvm::Expected<runtime::GPUSession> session = runtime::GPUSession::open(
        bundle, dtype, spec.hasTokens() ? spec.vocabSize() : 0);
    if (!session)
      return session.takeError();
    m->session.emplace(std::move(*session));
    m->model = &m->session->getModel();
    m->vocab = spec.vocabSize();
    return m;
  }
  ~CudaModel() override {
    if (state)
      model->forgetState(*state);
  }
  llvm::ArrayRef<weights::ParamDesc> params() const override {
    return model->getParams();
  }
  llvm::Error setWeights(llvm::ArrayRef<weights::BoundTensor> b) override {
    return model->setParameters(b);
  }
  llvm::Error prefill(llvm::ArrayRef<std::vector<int64_t>> prompts,
                      std::vector<float> &last) override {
    int64_t batch = prompts.size();
    last.assign(batch * vocab, 0);
    // Rows of different lengths prefill alone; their states are copied
    // side by side into the batch's on the device.
    std::unique_ptr<runtime::GPUModel::DeviceState> all;
    if (batch > 1) {
      llvm::Expected<std::unique_ptr<runtime::GPUModel::DeviceState>> created =
          model->createState(batch);
      if (!created)
        return created.takeError();
      all = std::move(*created);
    }
    for (auto [r, p] : llvm::enumerate(prompts)) {
      llvm::Expected<std::unique_ptr<runtime::GPUModel::DeviceState>> one =
          model->createState(1);
      if (!one)
        return one.takeError();
      runtime::GPUModel::HostInput in{p.data(), nullptr, 1,
                                      int64_t(p.size())};
      if (llvm::Error e = model->prefill(
              in, **one,
              llvm::MutableArrayRef<float>(&last[r * vocab], vocab)))
        return e;
      if (batch == 1) {
        // The previous prompt's state and its step recordings go.
        if (state)
          model->forgetState(*state);
        state = std::move(*one);
        return llvm::Error::success();
      }
      if (llvm::Error e = model->copyStateRows(**one, *all, r))
        return e;
    }
    if (state)
      model->forgetState(*state);
    state = std::move(all);
    return llvm::Error::success();
  }
  llvm::Error step(llvm::ArrayRef<int64_t> tokens,
                   std::vector<float> &logits) override {
    logits.resize(tokens.size() * vocab);
    runtime::GPUModel::HostInput in{tokens.data(), nullptr,
                                    int64_t(tokens.size()), 1};
    return model->decodeStep(in, *state, logits);
  }
  bool samplesOnDevice() const override {
    return model->canSampleOnDevice() && !hostSampling;
  }
  llvm::Error
  startDeviceSampling(const runtime::SamplingOptions &options,
                      llvm::ArrayRef<std::vector<int64_t>> history,
                      llvm::ArrayRef<int64_t> next, uint64_t draws) override {
    return model->startSampling(*state, options, history, next, draws);
  }
  llvm::Error sampleNext(std::vector<int64_t> &next) override {
    if (llvm::Error e = model->generateStep(*state))
      return e;
    return model->readTokens(*state, next);
  }

private:
  CudaModel() = default;
  // Destroyed in reverse order: the state before the session's model.
  std::optional<runtime::GPUSession> session;
  runtime::GPUModel *model = nullptr; ///< the session's
  std::unique_ptr<runtime::GPUModel::DeviceState> state;
  int64_t vocab = 0;
};

#if XLSTM_HAVE_REFERENCE
/// Concatenates host states along the batch (first) dimension.
std::vector<reference::Tensor>
concatStates(llvm::ArrayRef<std::vector<reference::Tensor>> rows) {
  std::vector<reference::Tensor> out;
  for (size_t s = 0; s < rows.front().size(); ++s) {
    llvm::SmallVector<int64_t, 4> shape(rows.front()[s].shape);
    shape[0] = rows.size();
    reference::Tensor t(shape);
    t.data.clear();
    for (const auto &row : rows)
      llvm::append_range(t.data, row[s].data);
    out.push_back(std::move(t));
  }
  return out;
}

class ReferenceGenerator : public Model {
public:
  explicit ReferenceGenerator(reference::ReferenceModel model, int64_t vocab)
      : model(std::move(model)), vocab(vocab) {}
  llvm::ArrayRef<weights::ParamDesc> params() const override {
    return model.params();
  }
  llvm::Error setWeights(llvm::ArrayRef<weights::BoundTensor> b) override {
    weights::ParamValues values;
    for (const weights::BoundTensor &t : b)
      values.push_back(t.toF64());
    model.setParameters(std::move(values));
    return llvm::Error::success();
  }
  llvm::Error prefill(llvm::ArrayRef<std::vector<int64_t>> prompts,
                      std::vector<float> &last) override {
    last.clear();
    std::vector<std::vector<reference::Tensor>> rows;
    for (const std::vector<int64_t> &p : prompts) {
      reference::Tensor tokens({1, int64_t(p.size())});
      for (auto [i, t] : llvm::enumerate(p))
        tokens.data[i] = double(t);
      llvm::Expected<reference::ReferenceModel::Result> r =
          model.forward(tokens);
      if (!r)
        return r.takeError();
      size_t offset = (p.size() - 1) * vocab;
      for (int64_t i = 0; i < vocab; ++i)
        last.push_back(float(r->output.data[offset + i]));
      rows.push_back(std::move(r->states));
    }
    states = concatStates(rows);
    return llvm::Error::success();
  }
  llvm::Error step(llvm::ArrayRef<int64_t> tokens,
                   std::vector<float> &logits) override {
    reference::Tensor in({int64_t(tokens.size()), 1});
    for (auto [i, t] : llvm::enumerate(tokens))
      in.data[i] = double(t);
    llvm::Expected<reference::ReferenceModel::Result> r =
        model.step(in, states);
    if (!r)
      return r.takeError();
    logits.assign(r->output.data.begin(), r->output.data.end());
    states = std::move(r->states);
    return llvm::Error::success();
  }

private:
  reference::ReferenceModel model;
  int64_t vocab;
  std::vector<reference::Tensor> states;
};
#endif

/// Holds back the bytes of an unfinished UTF-8 character at the end of
/// `pending`; returns the complete prefix.
std::string takeCompleteUTF8(std::string &pending) {
  size_t end = pending.size(), i = end;
  // Walk back over at most 3 continuation bytes to the lead byte.
  while (i > 0 && end - i < 4 &&
         (static_cast<unsigned char>(pending[i - 1]) & 0xC0) == 0x80)
    --i;
  if (i > 0) {
    unsigned char lead = pending[i - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (need > end - (i - 1))
      end = i - 1; // incomplete: keep it for the next token
  }
  std::string out = pending.substr(0, end);
  pending.erase(0, end);
  return out;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  xlstm::reportFatalErrorsAsDiagnostics("xlstm-generate");
  xlstm::setVersionPrinter("xlstm-generate");
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "xlstm-generate: text in, text out with a "
                              "compiled xLSTM model\n");
  runtime::SamplingOptions sampling{temperature, topK, topP,
                                    repetitionPenalty, seed};
  if (llvm::Error e = sampling.validate())
    return fail(std::move(e));
  if (maxNewTokens < 0 || maxNewTokens > (int64_t(1) << 20))
    return fail("--max-new-tokens must be between 0 and 1048576");
  int sources = !prompt.empty() + !promptFile.empty() + !inputsPath.empty();
  if (sources != 1)
    return fail("give exactly one of --prompt, --prompt-file and --inputs");
  if (inputsPath.empty() && tokenizerPath.empty())
    return fail("--tokenizer is needed to turn text into tokens");
  if (dtype != "f32" && dtype != "bf16")
    return fail("--dtype must be f32 or bf16, got '" + dtype + "'");

  // The model and its config.
  bool isBundle = llvm::sys::path::extension(modelPath) == ".xlstmb";
  std::optional<bundle::Bundle> modelBundle;
  std::optional<config::ModelSpec> spec;
  if (isBundle) {
    llvm::Expected<bundle::Bundle> b = bundle::Bundle::open(modelPath);
    if (!b)
      return fail(b.takeError());
    modelBundle = std::move(*b);
    std::optional<llvm::StringRef> text =
        modelBundle->manifest().getString("config");
    if (!text)
      return fail(modelPath + ": the bundle has no config");
    spec = config::parseModelConfig(*text, modelPath + ":config",
                                    llvm::errs());
    // BOS/EOS of the Hugging Face config the bundle was compiled from.
    if (spec)
      if (const llvm::json::Object *t =
              modelBundle->manifest().getObject("special_tokens")) {
        config::ModelSpec::SpecialTokens tokens;
        tokens.bos = t->getInteger("bos");
        tokens.pad = t->getInteger("pad");
        tokens.forceBosInsert =
            t->getBoolean("force_bos_token_insert").value_or(false);
        if (const llvm::json::Array *eos = t->getArray("eos"))
          for (const llvm::json::Value &id : *eos)
            if (std::optional<int64_t> v = id.getAsInteger())
              tokens.eos.push_back(*v);
        spec->specialTokens = std::move(tokens);
      }
  } else {
    spec = config::parseModelConfigFile(modelPath, llvm::errs());
  }
  if (!spec)
    return 1;
  if (!spec->hasTokens())
    return fail(modelPath + ": the model takes embeddings, not tokens");
  int64_t vocab = spec->vocabSize();

  std::unique_ptr<Model> model;
  if (device == Device::Cuda) {
    if (!isBundle)
      return fail("--device=cuda runs bundles: compile the model first "
                  "(xlstmc " +
                  modelPath + " -o model.xlstmb)");
    llvm::Expected<std::unique_ptr<CudaModel>> cuda =
        CudaModel::open(*modelBundle, *spec);
    if (!cuda)
      return fail(cuda.takeError());
    model = std::move(*cuda);
  } else {
#if XLSTM_HAVE_REFERENCE
    mlir::DialectRegistry registry;
    registerAllDialects(registry);
    static mlir::MLIRContext context(registry);
    context.loadAllAvailableDialects();
    mlir::FailureOr<reference::ReferenceModel> ref =
        reference::ReferenceModel::create(context, *spec, {});
    if (mlir::failed(ref))
      return 1;
    model = std::make_unique<ReferenceGenerator>(std::move(*ref), vocab);
#else
    return fail("--device=reference: this xlstm-generate was built without "
                "the compiler (XLSTM_ENABLE_COMPILER=OFF)");
#endif
  }

  // Weights, straight from the checkpoint.
  std::string weightsSource = weightsPath;
  if (weightsSource.empty() && llvm::sys::fs::is_directory(modelPath))
    weightsSource = modelPath;
  if (weightsSource.empty())
    return fail("--weights is needed (generation from random weights is "
                "noise)");
  llvm::Expected<weights::Checkpoint> checkpoint =
      weights::Checkpoint::open(weightsSource);
  if (!checkpoint)
    return fail(checkpoint.takeError());
  llvm::Expected<std::vector<weights::BoundTensor>> bound =
      weights::bindCheckpoint(model->params(), *checkpoint,
                              weights::checkpointLayout(*spec));
  if (!bound)
    return fail(bound.takeError());
  if (llvm::Error e = model->setWeights(*bound))
    return fail(std::move(e));

  // Prompts as token ids.
  std::optional<tokenizer::Tokenizer> tok;
  if (!tokenizerPath.empty()) {
    llvm::Expected<tokenizer::Tokenizer> t =
        tokenizer::Tokenizer::fromFile(tokenizerPath);
    if (!t)
      return fail(t.takeError());
    tok = std::move(*t);
  }
  std::vector<std::vector<int64_t>> prompts;
  if (!inputsPath.empty()) {
    llvm::Expected<weights::SafetensorsFile> io =
        weights::SafetensorsFile::open(inputsPath);
    if (!io)
      return fail(io.takeError());
    const weights::TensorView *tokens = io->find("tokens");
    if (!tokens || tokens->shape.size() != 2 || tokens->shape[1] < 1)
      return fail(inputsPath + ": expected a 'tokens' tensor (batch, seq)");
    std::vector<double> ids = weights::toF64(*tokens);
    for (int64_t r = 0; r < tokens->shape[0]; ++r)
      prompts.emplace_back(ids.begin() + r * tokens->shape[1],
                           ids.begin() + (r + 1) * tokens->shape[1]);
  } else {
    std::vector<std::string> texts;
    if (!prompt.empty()) {
      texts.push_back(prompt);
    } else {
      llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> file =
          llvm::MemoryBuffer::getFile(promptFile, /*IsText=*/true);
      if (!file)
        return fail(promptFile + ": " + file.getError().message());
      llvm::SmallVector<llvm::StringRef> lines;
      (*file)->getBuffer().split(lines, '\n', -1, /*KeepEmpty=*/false);
      for (llvm::StringRef line : lines)
        texts.push_back(line.rtrim("\r").str());
      if (texts.empty())
        return fail(promptFile + ": no prompts");
    }
    int64_t bos = bosId;
    if (bos == -2)
      bos = spec->specialTokens && spec->specialTokens->forceBosInsert &&
                    spec->specialTokens->bos
                ? *spec->specialTokens->bos
                : -1;
    for (const std::string &text : texts) {
      std::vector<int64_t> ids;
      if (bos >= 0)
        ids.push_back(bos);
      llvm::append_range(ids, tok->encode(text));
      if (ids.empty())
        return fail("a prompt has no tokens (give a BOS token with --bos)");
      prompts.push_back(std::move(ids));
    }
  }
  for (const auto &p : prompts)
    for (int64_t t : p)
      if (t < 0 || t >= vocab)
        return fail(llvm::formatv("prompt token {0} is outside the model's "
                                  "vocabulary of {1}",
                                  t, vocab));
  std::vector<int64_t> eos(eosIds.begin(), eosIds.end());
  if (eos.empty() && spec->specialTokens)
    eos = spec->specialTokens->eos;

  // Batches: all prompts together, or one after the other.
  std::vector<std::vector<std::vector<int64_t>>> batches;
  if (batchPrompts || !inputsPath.empty())
    batches.push_back(prompts);
  else
    for (const auto &p : prompts)
      batches.push_back({p});

  using Clock = std::chrono::steady_clock;
  double prefillSeconds = 0, decodeSeconds = 0;
  int64_t promptTokens = 0, decodedTokens = 0;
  std::vector<std::vector<int64_t>> generatedAll;
  bool stream = prompts.size() == 1 && tok;
  for (const auto &batch : batches) {
    int64_t rows = batch.size();
    std::vector<float> logits;
    auto t0 = Clock::now();
    if (llvm::Error e = model->prefill(batch, logits))
      return fail(std::move(e));
    prefillSeconds += std::chrono::duration<double>(Clock::now() - t0).count();
    for (const auto &p : batch)
      promptTokens += p.size();

    // The first token of each row from the prefill's logits on the host;
    // the rest on the device where it can (the same function: a row's
    // stream continues there after its first draw).
    runtime::SamplingOptions options{temperature, topK, topP,
                                     repetitionPenalty, seed};
    std::vector<runtime::Sampler> samplers;
    for (int64_t r = 0; r < rows; ++r)
      samplers.emplace_back(options, r);
    bool onDevice = model->samplesOnDevice();
    std::vector<std::vector<int64_t>> history(batch.begin(), batch.end());
    std::vector<std::vector<int64_t>> generated(rows);
    std::vector<std::string> text(rows), pending(rows);
    std::vector<bool> done(rows, false);
    std::vector<int64_t> next(rows, 0);
    auto t1 = Clock::now();
    for (int64_t n = 0; n < maxNewTokens; ++n) {
      bool any = false;
      for (int64_t r = 0; r < rows; ++r) {
        if (done[r])
          continue;
        if (n == 0 || !onDevice) {
          llvm::ArrayRef<float> row(&logits[r * vocab], vocab);
          next[r] = samplers[r].next(row, history[r]);
        }
        history[r].push_back(next[r]);
        generated[r].push_back(next[r]);
        ++decodedTokens;
        if (llvm::is_contained(eos, next[r])) {
          done[r] = true;
          continue;
        }
        if (tok) {
          llvm::Expected<std::string> bytes = tok->decodeBytes({next[r]});
          if (!bytes)
            return fail(bytes.takeError());
          pending[r] += *bytes;
          std::string complete = takeCompleteUTF8(pending[r]);
          text[r] += complete;
          if (stream) {
            llvm::outs() << complete;
            llvm::outs().flush();
          }
          for (const std::string &s : stops)
            if (!s.empty() && llvm::StringRef(text[r]).ends_with(s)) {
              done[r] = true;
              text[r].resize(text[r].size() - s.size());
            }
        }
        any |= !done[r];
      }
      if (!any || n + 1 == maxNewTokens)
        break;
      // Finished rows keep decoding (the batch steps together); their
      // output is ignored.
      if (onDevice && n == 0)
        if (llvm::Error e =
                model->startDeviceSampling(options, history, next, 1))
          return fail(std::move(e));
      if (llvm::Error e =
              onDevice ? model->sampleNext(next) : model->step(next, logits))
        return fail(std::move(e));
    }
    decodeSeconds += std::chrono::duration<double>(Clock::now() - t1).count();
    for (int64_t r = 0; r < rows; ++r) {
      if (!stream && tok)
        llvm::outs() << text[r] << takeCompleteUTF8(pending[r]) << "\n";
      generatedAll.push_back(std::move(generated[r]));
    }
  }
  if (stream)
    llvm::outs() << "\n";
  llvm::outs().flush();
  llvm::errs() << llvm::formatv(
      "xlstm-generate: prompt {0} tokens in {1:F1} ms ({2:F1} tokens/s); "
      "generated {3} tokens in {4:F1} ms ({5:F1} tokens/s); sampling on "
      "the {6}\n",
      promptTokens, prefillSeconds * 1e3,
      promptTokens / std::max(prefillSeconds, 1e-9), decodedTokens,
      decodeSeconds * 1e3, decodedTokens / std::max(decodeSeconds, 1e-9),
      model->samplesOnDevice() ? "GPU" : "host");

  if (!outputPath.empty()) {
    int64_t rows = generatedAll.size(), cols = maxNewTokens;
    std::vector<double> ids(rows * cols, -1);
    for (int64_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < generatedAll[r].size(); ++c)
        ids[r * cols + c] = double(generatedAll[r][c]);
    weights::OwnedTensor t = weights::OwnedTensor::fromF64(
        "generated_tokens", {rows, cols}, ids, weights::DType::I64);
    if (llvm::Error e = weights::writeSafetensors(outputPath, {t}, {}))
      return fail(std::move(e));
  }
  return 0;
}
