//===- xlstm-run.cpp - Run a model config ---------------------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Runs a model on inputs from a safetensors file and writes the outputs to
// another:
//   xlstm-run MODEL.yaml --weights W.safetensors --inputs IO.safetensors
//             --output OUT.safetensors --device reference [--pipeline ...]
// The reference device evaluates the compiler's IR in float64 on the CPU.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Bundle/Bundle.h"
#include "xlstm/Config/ConfigParser.h"
#include "xlstm/InitAll.h"
#include "xlstm/Reference/ReferenceModel.h"
#include "xlstm/Target/Bundle/ModelBundle.h"
#include "xlstm/Weights/ParameterBinding.h"
#include "xlstm/Weights/Random.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"

using namespace mlir;
using namespace xlstm;
namespace cl = llvm::cl;

namespace {
enum class Device { Reference, Cuda };

cl::OptionCategory runCategory("xlstm-run options");
cl::opt<std::string>
    modelPath(cl::Positional, cl::Required,
              cl::desc("<model config .yaml | bundle .xlstmb>"),
              cl::cat(runCategory));
cl::opt<std::string> weightsPath(
    "weights",
    cl::desc("Parameters by upstream state_dict name (default: random init)"),
    cl::value_desc("file.safetensors"), cl::cat(runCategory));
cl::opt<uint64_t> seed("seed", cl::desc("Seed of the random init"), cl::init(0),
                       cl::cat(runCategory));
cl::opt<std::string> saveWeightsPath("save-weights",
                                     cl::desc("Also write the parameters used"),
                                     cl::value_desc("file.safetensors"),
                                     cl::cat(runCategory));
cl::opt<std::string>
    inputsPath("inputs",
               cl::desc("Model input: tensor 'x' (B, S, E) or 'tokens' (B, S)"),
               cl::value_desc("file.safetensors"), cl::cat(runCategory));
cl::opt<std::string> outputPath(
    "output", cl::desc("Where to write 'y' or 'logits' (and the random input)"),
    cl::value_desc("file.safetensors"), cl::cat(runCategory));
cl::opt<Device>
    device("device", cl::desc("Where to run"), cl::init(Device::Reference),
           cl::values(clEnumValN(Device::Reference, "reference",
                                 "float64 evaluation of the IR on the CPU"),
                      clEnumValN(Device::Cuda, "cuda", "the GPU runtime")),
           cl::cat(runCategory));
cl::opt<reference::PipelineLevel>
    pipeline("pipeline", cl::desc("IR level the reference device evaluates"),
             cl::init(reference::PipelineLevel::Expanded),
             cl::values(clEnumValN(reference::PipelineLevel::Graph, "graph",
                                   "block ops as the frontend emits them"),
                        clEnumValN(reference::PipelineLevel::Expanded,
                                   "expanded", "after xlstm-expand-blocks"),
                        clEnumValN(reference::PipelineLevel::Tiled, "tiled",
                                   "then xlstm-tile-mlstm-chunkwise and "
                                   "xlstm-fuse-slstm-steps"),
                        clEnumValN(reference::PipelineLevel::Linalg, "linalg",
                                   "then xlstm-lower-to-linalg (upstream "
                                   "tensor IR, the GPU path's input)")),
             cl::cat(runCategory));
cl::opt<int64_t> chunkSize("chunk-size",
                           cl::desc("Chunk size of --pipeline=tiled|linalg"),
                           cl::init(64), cl::cat(runCategory));
cl::opt<xlstm::config::SchemaHint>
    schema("schema", cl::desc("Config schema (default: detect from the keys)"),
           cl::init(xlstm::config::SchemaHint::Auto),
           xlstm::config::schemaHintValues(), cl::cat(runCategory));

cl::opt<int64_t>
    steps("steps",
          cl::desc("Also run @step on the first T positions from a zero state "
                   "(writes step_y / step_logits)"),
          cl::init(0), cl::cat(runCategory));
cl::opt<int64_t> generate(
    "generate",
    cl::desc("Greedy continuation of N tokens after the prefill (writes "
             "generated_tokens, generated_logits, prefill_state.<block>.<name> "
             "and state.<block>.<name>, the state after generating)"),
    cl::init(0), cl::cat(runCategory));

cl::opt<int64_t> batch("batch",
                       cl::desc("Run on a seeded random input of this batch "
                                "size instead of --inputs (with --seqlen)"),
                       cl::init(0), cl::cat(runCategory));
cl::opt<int64_t> seqlen("seqlen",
                        cl::desc("Sequence length of the random input"),
                        cl::init(0), cl::cat(runCategory));

/// The reference device keeps whole float64 activations in host memory; a
/// (batch, seq) whose widest activation would not fit is an error up front,
/// not an allocation failure halfway through.
llvm::Error checkReferenceSize(const config::ModelSpec &spec, int64_t b,
                               int64_t s) {
  constexpr int64_t kLimitBytes = int64_t(16) << 30;
  // Up-projections and gate pre-activations reach a few times the width.
  int64_t width = std::max<int64_t>(spec.vocabSize(), 8 * spec.embeddingDim());
  int64_t positions = 0, bytes = 0;
  if (llvm::MulOverflow(b, s, positions) ||
      llvm::MulOverflow(positions, width * 8, bytes) || bytes > kLimitBytes)
    return llvm::createStringError(
        "batch %lld x seqlen %lld is too large for the reference device "
        "(float64 activations of width %lld need over %lld GiB)",
        (long long)b, (long long)s, (long long)width,
        (long long)(kLimitBytes >> 30));
  return llvm::Error::success();
}

/// A seeded random model input: tokens uniform over the vocabulary, or
/// embeddings N(0, 1).
reference::Tensor randomModelInput(const config::ModelSpec &spec, int64_t b,
                                   int64_t s, uint64_t seed) {
  weights::SeededRandom rng(seed, "model input");
  if (spec.hasTokens()) {
    reference::Tensor tokens({b, s});
    for (double &t : tokens.data)
      t = static_cast<double>(rng.next() % uint64_t(spec.vocabSize()));
    return tokens;
  }
  reference::Tensor x({b, s, spec.embeddingDim()});
  for (double &v : x.data)
    v = rng.normal();
  return x;
}

/// Positions [from, from + count) of a (B, S, ...) tensor.
reference::Tensor positions(const reference::Tensor &x, int64_t from,
                            int64_t count) {
  int64_t b = x.dim(0), s = x.dim(1), inner = x.size() / (b * s);
  llvm::SmallVector<int64_t, 4> shape(x.shape);
  shape[1] = count;
  reference::Tensor out(shape);
  for (int64_t i = 0; i < b; ++i)
    std::copy_n(&x.data[(i * s + from) * inner], count * inner,
                &out.data[i * count * inner]);
  return out;
}

/// Concatenates (B, 1, ...) tensors along positions.
reference::Tensor concatPositions(llvm::ArrayRef<reference::Tensor> parts) {
  int64_t b = parts.front().dim(0), n = parts.size();
  int64_t inner = parts.front().size() / b;
  llvm::SmallVector<int64_t, 4> shape(parts.front().shape);
  shape[1] = n;
  reference::Tensor out(shape);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < b; ++i)
      std::copy_n(&parts[t].data[i * inner], inner,
                  &out.data[(i * n + t) * inner]);
  return out;
}

/// The greedy next token (B, 1) from logits (B, S, V): argmax at the last
/// position, first index on ties.
reference::Tensor argmaxLast(const reference::Tensor &logits) {
  int64_t b = logits.dim(0), s = logits.dim(1), v = logits.dim(2);
  reference::Tensor token({b, 1});
  for (int64_t i = 0; i < b; ++i) {
    const double *row = &logits.data[(i * s + s - 1) * v];
    token.data[i] = std::max_element(row, row + v) - row;
  }
  return token;
}

int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "xlstm-run") << message << "\n";
  return 1;
}
int fail(llvm::Error error) { return fail(llvm::toString(std::move(error))); }

/// Reads the model input from the inputs file.
llvm::Expected<reference::Tensor> readInput(const weights::SafetensorsFile &io,
                                            llvm::StringRef name) {
  const weights::TensorView *t = io.find(name);
  if (!t)
    return llvm::createStringError("%s has no tensor '%s' (this model's input)",
                                   io.name().str().c_str(), name.str().c_str());
  if (name == "tokens" && t->dtype != weights::DType::I64)
    return llvm::createStringError("%s: 'tokens' must be I64, got %s",
                                   io.name().str().c_str(),
                                   weights::toString(t->dtype).str().c_str());
  if (name != "tokens" && !weights::isFloat(t->dtype))
    return llvm::createStringError(
        "%s: '%s' must be a float tensor (F32, BF16, F16, F64), got %s",
        io.name().str().c_str(), name.str().c_str(),
        weights::toString(t->dtype).str().c_str());
  return reference::Tensor(t->shape, weights::toF64(*t));
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM y(argc, argv);
  cl::HideUnrelatedOptions(runCategory);
  cl::ParseCommandLineOptions(argc, argv, "Run an xLSTM model\n");

  if (chunkSize <= 0)
    return fail("--chunk-size must be positive");
  if (steps < 0 || generate < 0 || batch < 0 || seqlen < 0)
    return fail("--steps, --generate, --batch and --seqlen must not be "
                "negative");
  if (device == Device::Cuda)
    return fail("--device=cuda: the GPU runtime is not part of this build "
                "yet; use --device=reference");

  DialectRegistry registry;
  registerAllDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

  // MODEL is a config YAML, or a bundle carrying its config and graph IR.
  std::optional<config::ModelSpec> spec;
  FailureOr<reference::ReferenceModel> model = failure();
  reference::ReferenceOptions options{pipeline, chunkSize};
  if (llvm::sys::path::extension(modelPath) == ".xlstmb") {
    llvm::Expected<bundle::Bundle> b = bundle::Bundle::open(modelPath);
    if (!b)
      return fail(b.takeError());
    std::optional<llvm::StringRef> configText =
        b->manifest().getString("config");
    const bundle::Bundle::SectionView *ir = b->find(kGraphSectionName);
    if (!configText || !ir)
      return fail(modelPath + ": the bundle has no config or no graph IR");
    spec = config::parseModelConfig(*configText, modelPath + ":config",
                                    llvm::errs());
    if (!spec)
      return 1;
    OwningOpRef<ModuleOp> module =
        parseSourceString<ModuleOp>(ir->data, &context, modelPath.getValue());
    if (!module)
      return 1;
    model = reference::ReferenceModel::fromModule(std::move(module), options);
  } else {
    spec = config::parseModelConfigFile(modelPath, llvm::errs(), schema);
    if (!spec)
      return 1;
    model = reference::ReferenceModel::create(context, *spec, options);
  }
  if (failed(model))
    return 1;

  config::SLSTMBackend layout = spec->isLarge() || !spec->stack.slstmBlock
                                    ? config::SLSTMBackend::Cuda
                                    : spec->stack.slstmBlock->slstm.backend;
  weights::ParamValues params;
  if (!weightsPath.empty()) {
    llvm::Expected<weights::SafetensorsFile> file =
        weights::SafetensorsFile::open(weightsPath);
    if (!file)
      return fail(file.takeError());
    llvm::Expected<weights::ParamValues> bound =
        weights::bindParameters(model->params(), *file, layout);
    if (!bound)
      return fail(bound.takeError());
    params = std::move(*bound);
  } else {
    params = weights::initParameters(*spec, model->params(), seed);
    // Upstream creates float32 parameters; round so that a model saved with
    // --save-weights reloads to exactly the same values.
    for (std::vector<double> &values : params)
      for (double &v : values)
        v = static_cast<float>(v);
  }
  if (!saveWeightsPath.empty())
    if (llvm::Error e =
            weights::writeParameters(saveWeightsPath, model->params(), params,
                                     weights::DType::F32, layout))
      return fail(std::move(e));
  model->setParameters(std::move(params));

  bool randomInput = batch > 0 || seqlen > 0;
  if (outputPath.empty() || (inputsPath.empty() == !randomInput)) {
    if (!saveWeightsPath.empty() && inputsPath.empty() && outputPath.empty() &&
        !randomInput)
      return 0;
    return fail("give --output and either --inputs or --batch/--seqlen");
  }
  reference::Tensor input;
  if (randomInput) {
    if (batch < 1 || seqlen < 1)
      return fail("--batch and --seqlen must both be at least 1");
    if (llvm::Error e = checkReferenceSize(*spec, batch, seqlen))
      return fail(std::move(e));
    input = randomModelInput(*spec, batch, seqlen, seed);
  } else {
    llvm::Expected<weights::SafetensorsFile> io =
        weights::SafetensorsFile::open(inputsPath);
    if (!io)
      return fail(io.takeError());
    llvm::Expected<reference::Tensor> read = readInput(*io, model->inputName());
    if (!read)
      return fail(read.takeError());
    input = std::move(*read);
    if (llvm::Error e = checkReferenceSize(*spec, input.dim(0), input.dim(1)))
      return fail(std::move(e));
  }

  llvm::Expected<reference::ReferenceModel::Result> prefill =
      model->forward(input);
  if (!prefill)
    return fail(prefill.takeError());

  std::vector<weights::OwnedTensor> outputs;
  auto addOutput = [&](std::string name, const reference::Tensor &t,
                       weights::DType dtype = weights::DType::F64) {
    outputs.push_back(weights::OwnedTensor::fromF64(
        std::move(name), std::vector<int64_t>(t.shape.begin(), t.shape.end()),
        t.data, dtype));
  };
  addOutput(model->outputName().str(), prefill->output);
  // A random input goes out too, so --inputs can replay the run.
  if (randomInput)
    addOutput(model->inputName().str(), input,
              model->inputName() == "tokens" ? weights::DType::I64
                                             : weights::DType::F64);

  int64_t batchSize = input.dim(0), seq = input.dim(1);
  if (steps > 0) {
    // The recurrent path on the first T positions, from a zero state.
    if (steps > seq)
      return fail("--steps " + llvm::Twine(steps.getValue()) +
                  " exceeds the input length " + llvm::Twine(seq));
    std::vector<reference::Tensor> state = model->zeroStates(batchSize);
    std::vector<reference::Tensor> outs;
    for (int64_t t = 0; t < steps; ++t) {
      llvm::Expected<reference::ReferenceModel::Result> r =
          model->step(positions(input, t, 1), state);
      if (!r)
        return fail(r.takeError());
      outs.push_back(std::move(r->output));
      state = std::move(r->states);
    }
    addOutput("step_" + model->outputName().str(), concatPositions(outs));
  }

  if (generate > 0) {
    if (model->inputName() != "tokens")
      return fail("--generate needs a language model (tokens in, logits out)");
    // Greedy continuation after the prefill; generated_logits[:, t] are the
    // logits after feeding generated_tokens[:, t].
    std::vector<reference::Tensor> state = prefill->states;
    // "blocks.<i>.<name>" -> "<prefix>.<i>.<name>".
    auto addStates = [&](llvm::StringRef prefix) {
      for (auto [name, t] : llvm::zip(model->stateNames(), state))
        addOutput((prefix + llvm::StringRef(name).drop_front(6)).str(), t);
    };
    addStates("prefill_state");
    reference::Tensor token = argmaxLast(prefill->output);
    reference::Tensor tokens({batchSize, generate.getValue()});
    std::vector<reference::Tensor> logits;
    for (int64_t t = 0; t < generate; ++t) {
      for (int64_t b = 0; b < batchSize; ++b)
        tokens.data[b * generate + t] = token.data[b];
      llvm::Expected<reference::ReferenceModel::Result> r =
          model->step(token, state);
      if (!r)
        return fail(r.takeError());
      token = argmaxLast(r->output);
      logits.push_back(std::move(r->output));
      state = std::move(r->states);
    }
    // Like upstream's generate(), which returns the state it updated in
    // place: the state after the prefill and all generated tokens.
    addStates("state");
    addOutput("generated_tokens", tokens, weights::DType::I64);
    addOutput("generated_logits", concatPositions(logits));
  }

  if (llvm::Error e = weights::writeSafetensors(
          outputPath, outputs, {{"device", "reference"}, {"format", "pt"}}))
    return fail(std::move(e));
  return 0;
}
