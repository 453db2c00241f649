//===- xlstm-run.cpp - Run a model config ---------------------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Runs a model on inputs from a safetensors file and writes the outputs to
// another:
//   xlstm-run MODEL --weights W.safetensors --inputs IO.safetensors
//             --output OUT.safetensors --device reference|cuda
// The reference device evaluates the compiler's IR in float64 on the CPU
// (MODEL: a config YAML or a bundle; builds with the compiler only); the
// cuda device runs a bundle's host programs and kernels on the GPU through
// the runtime (MLIR-free, builds everywhere).
//
//===----------------------------------------------------------------------===//

#include "xlstm/Bundle/Bundle.h"
#include "xlstm/Config/ConfigParser.h"
#include "xlstm/Reference/Tensor.h"
#include "xlstm/Runtime/GPUModel.h"
#include "xlstm/Support/FatalErrors.h"
#include "xlstm/Version.h"
#include "xlstm/Weights/ParameterBinding.h"
#include "xlstm/Weights/Random.h"

#if XLSTM_HAVE_REFERENCE
#include "xlstm/InitAll.h"
#include "xlstm/Reference/ReferenceModel.h"
#include "xlstm/Target/Bundle/ModelBundle.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#endif

#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <map>

#include <sys/resource.h>

using namespace xlstm;
namespace cl = llvm::cl;

namespace {
enum class Device { Reference, Cuda };

cl::OptionCategory runCategory("xlstm-run options");
cl::opt<std::string>
    modelPath(cl::Positional, cl::Required,
              cl::desc("<model config .yaml | config.json | Hugging Face "
                       "model folder | bundle .xlstmb>"),
              cl::cat(runCategory));
cl::opt<std::string> weightsPath(
    "weights",
    cl::desc("Parameters by upstream or Hugging Face name: a .safetensors "
             "file, a model.safetensors.index.json of shards, or a folder "
             "holding either (default: the model folder's, else random "
             "init)"),
    cl::value_desc("checkpoint"), cl::cat(runCategory));
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
    device("device", cl::desc("Where to run"),
           cl::init(XLSTM_HAVE_REFERENCE ? Device::Reference : Device::Cuda),
           cl::values(clEnumValN(Device::Reference, "reference",
                                 "float64 evaluation of the IR on the CPU"),
                      clEnumValN(Device::Cuda, "cuda", "the GPU runtime")),
           cl::cat(runCategory));
#if XLSTM_HAVE_REFERENCE
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
#endif
cl::opt<std::string> dtype("dtype",
                           cl::desc("Element type of the GPU programs (cuda)"),
                           cl::init("f32"), cl::cat(runCategory));
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

cl::opt<unsigned> bench("bench",
                        cl::desc("Time N forward runs on the GPU (CUDA events, "
                                 "after --warmup runs) and print JSON"),
                        cl::init(0), cl::cat(runCategory));
cl::opt<unsigned> warmup("warmup", cl::desc("Untimed runs before --bench"),
                         cl::init(3), cl::cat(runCategory));
cl::opt<bool> profile("profile",
                      cl::desc("Time every kernel (two events per launch): "
                               "with --bench in the JSON, else the forward's "
                               "most expensive kernels on stderr"),
                      cl::cat(runCategory));
cl::opt<bool> cudaGraphs(
    "cuda-graphs",
    cl::desc("Replay forward and step as CUDA graphs, recorded on the first "
             "run of each input shape (--device=cuda; not with --profile, "
             "which times launch by launch)"),
    cl::init(true), cl::cat(runCategory));
cl::opt<bool> hostSampling(
    "host-sampling",
    cl::desc("--bench-decode: choose tokens on the host from logits copied "
             "back every step, even when the bundle can sample on the GPU"),
    cl::init(false), cl::cat(runCategory));
cl::opt<unsigned> benchDecode(
    "bench-decode",
    cl::desc("Time generation on the GPU: prefill a seeded random prompt of "
             "--batch x --seqlen, then N greedy decode steps with states on "
             "the device (argmax on the host); JSON on stdout"),
    cl::init(0), cl::cat(runCategory));
cl::opt<bool> timeLoad("time-load",
                       cl::desc("Print on stderr how long opening, binding "
                                "and uploading the weights took"),
                       cl::cat(runCategory));
cl::opt<std::string> benchJson("bench-json",
                               cl::desc("Write the --bench JSON here too"),
                               cl::value_desc("file.json"),
                               cl::cat(runCategory));
cl::opt<int64_t> batch("batch",
                       cl::desc("Run on a seeded random input of this batch "
                                "size instead of --inputs (with --seqlen)"),
                       cl::init(0), cl::cat(runCategory));
cl::opt<int64_t> seqlen("seqlen",
                        cl::desc("Sequence length of the random input"),
                        cl::init(0), cl::cat(runCategory));

#if XLSTM_HAVE_REFERENCE
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
#endif

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
  // The batch and sequence sizes are read from the first two dimensions.
  size_t rank = name == "tokens" ? 2 : 3;
  if (t->shape.size() != rank)
    return llvm::createStringError(
        "%s: input '%s' has shape %s, expected %s", io.name().str().c_str(),
        name.str().c_str(), t->shapeString().c_str(),
        rank == 2 ? "(batch, seq)" : "(batch, seq, width)");
  return reference::Tensor(t->shape, weights::toF64(*t));
}

/// What xlstm-run needs of a device: the model's parameter table and names,
/// forward and step.
class ModelDevice {
public:
  struct Result {
    reference::Tensor output;
    std::vector<reference::Tensor> states;
  };
  virtual ~ModelDevice() = default;
  virtual llvm::ArrayRef<weights::ParamDesc> params() const = 0;
  virtual llvm::Error setParameters(weights::ParamValues values) = 0;
  /// Parameters bound in a checkpoint; devices that keep float64 convert.
  virtual llvm::Error
  setParameters(llvm::ArrayRef<weights::BoundTensor> bound) {
    weights::ParamValues values;
    for (const weights::BoundTensor &b : bound)
      values.push_back(b.toF64());
    return setParameters(std::move(values));
  }
  virtual llvm::StringRef inputName() const = 0;
  virtual llvm::StringRef outputName() const = 0;
  virtual llvm::ArrayRef<std::string> stateNames() const = 0;
  virtual std::vector<reference::Tensor> zeroStates(int64_t batch) const = 0;
  virtual llvm::Expected<Result> forward(const reference::Tensor &input) = 0;
  virtual llvm::Expected<Result>
  step(const reference::Tensor &input,
       llvm::ArrayRef<reference::Tensor> states) = 0;
  /// Fails when (batch, seq) cannot run here.
  virtual llvm::Error checkSize(const config::ModelSpec &, int64_t, int64_t) {
    return llvm::Error::success();
  }

  /// --generate: `count` greedy tokens per row after a prefill that left
  /// `states` and chose `first` (batch x 1). Each row feeds the argmax of
  /// its last logits back in.
  struct Greedy {
    reference::Tensor tokens;              ///< (batch, count), fed in order
    std::vector<reference::Tensor> logits; ///< (batch, 1, vocab) per token
    std::vector<reference::Tensor> states; ///< after the last token
  };
  virtual llvm::Expected<Greedy>
  generateGreedy(std::vector<reference::Tensor> states, reference::Tensor first,
                 int64_t count) {
    int64_t batch = first.dim(0);
    Greedy g{reference::Tensor({batch, count}), {}, std::move(states)};
    reference::Tensor token = std::move(first);
    for (int64_t t = 0; t < count; ++t) {
      for (int64_t b = 0; b < batch; ++b)
        g.tokens.data[b * count + t] = token.data[b];
      llvm::Expected<Result> r = step(token, g.states);
      if (!r)
        return r.takeError();
      token = argmaxLast(r->output);
      g.logits.push_back(std::move(r->output));
      g.states = std::move(r->states);
    }
    return g;
  }
};

#if XLSTM_HAVE_REFERENCE
class ReferenceDevice : public ModelDevice {
public:
  explicit ReferenceDevice(reference::ReferenceModel model)
      : model(std::move(model)) {}
  llvm::ArrayRef<weights::ParamDesc> params() const override {
    return model.params();
  }
  llvm::Error setParameters(weights::ParamValues values) override {
    model.setParameters(std::move(values));
    return llvm::Error::success();
  }
  llvm::StringRef inputName() const override { return model.inputName(); }
  llvm::StringRef outputName() const override { return model.outputName(); }
  llvm::ArrayRef<std::string> stateNames() const override {
    return model.stateNames();
  }
  std::vector<reference::Tensor> zeroStates(int64_t batch) const override {
    return model.zeroStates(batch);
  }
  llvm::Expected<Result> forward(const reference::Tensor &input) override {
    return convert(model.forward(input));
  }
  llvm::Expected<Result>
  step(const reference::Tensor &input,
       llvm::ArrayRef<reference::Tensor> states) override {
    return convert(model.step(input, states));
  }
  llvm::Error checkSize(const config::ModelSpec &spec, int64_t b,
                        int64_t s) override {
    return checkReferenceSize(spec, b, s);
  }

private:
  static llvm::Expected<Result>
  convert(llvm::Expected<reference::ReferenceModel::Result> r) {
    if (!r)
      return r.takeError();
    return Result{std::move(r->output), std::move(r->states)};
  }
  reference::ReferenceModel model;
};
#endif

/// A reference tensor as the GPU API takes it: int64 tokens (they must be
/// exact integers) or float32 embeddings, kept alive beside the view.
struct GPUInput {
  std::vector<int64_t> tokens;
  std::vector<float> embeddings;
  runtime::GPUModel::HostInput view;
};
/// `width`: the embedding width of models that read embeddings.
llvm::Expected<GPUInput> toGPUInput(const reference::Tensor &t, bool tokens,
                                    int64_t width) {
  GPUInput in;
  // The GPU API reads batch x seq (x width) values from the pointers.
  if (tokens && t.rank() != 2)
    return llvm::createStringError("the input must be (batch, seq) tokens, "
                                   "got rank %lld",
                                   static_cast<long long>(t.rank()));
  if (!tokens && (t.rank() != 3 || t.dim(2) != width))
    return llvm::createStringError("the input must be (batch, seq, %lld) "
                                   "embeddings",
                                   static_cast<long long>(width));
  in.view.batch = t.dim(0);
  in.view.seq = t.dim(1);
  if (tokens) {
    for (double v : t.data) {
      if (!(v >= -9e18 && v <= 9e18) || v != std::floor(v))
        return llvm::createStringError("token %g is not an integer", v);
      in.tokens.push_back(static_cast<int64_t>(v));
    }
    in.view.tokens = in.tokens.data();
  } else {
    in.embeddings.assign(t.data.begin(), t.data.end());
    in.view.embeddings = in.embeddings.data();
  }
  return in;
}

/// GPU host arrays as reference tensors (exact: every program type widens
/// to float64) and back (float64 states convert once, into the program's
/// type).
reference::Tensor toReference(const runtime::HostArray &a) {
  weights::TensorView view{"", a.dtype, a.shape, a.bytes};
  return reference::Tensor(a.shape, weights::toF64(view));
}
runtime::HostArray toHostArray(const reference::Tensor &t) {
  return runtime::HostArray::fromF64(t.shape, t.data, weights::DType::F64);
}

class CudaDevice : public ModelDevice {
public:
  static llvm::Expected<std::unique_ptr<CudaDevice>>
  open(const bundle::Bundle &bundle, const config::ModelSpec &spec) {
    std::unique_ptr<CudaDevice> device(new CudaDevice());
    llvm::Expected<runtime::GPUSession> session = runtime::GPUSession::open(
        bundle, dtype, spec.hasTokens() ? spec.vocabSize() : 0);
    if (!session)
      return session.takeError();
    device->session.emplace(std::move(*session));
    device->model = &device->session->getModel();
    device->context = &device->session->getContext();
    device->model->setGraphReplay(cudaGraphs && !profile);
    device->inputWidth = spec.hasTokens() ? 0 : spec.embeddingDim();
    device->outputWidth =
        spec.hasTokens() ? spec.vocabSize() : spec.embeddingDim();
    return device;
  }
  llvm::ArrayRef<weights::ParamDesc> params() const override {
    return model->getParams();
  }
  llvm::Error setParameters(weights::ParamValues values) override {
    // Upstream's init and golden files are float32 values.
    return model->setParameters(
        runtime::toFloat32Arrays(model->getParams(), values));
  }
  llvm::Error
  setParameters(llvm::ArrayRef<weights::BoundTensor> bound) override {
    return model->setParameters(bound);
  }
  llvm::StringRef inputName() const override { return model->getInputName(); }
  llvm::StringRef outputName() const override { return model->getOutputName(); }
  llvm::ArrayRef<std::string> stateNames() const override {
    return model->getStateNames();
  }
  std::vector<reference::Tensor> zeroStates(int64_t batch) const override {
    std::vector<reference::Tensor> out;
    for (const runtime::HostArray &a : model->zeroStates(batch))
      out.emplace_back(a.shape);
    return out;
  }
  llvm::Expected<Result> forward(const reference::Tensor &input) override {
    llvm::Expected<GPUInput> in = toGPUInput(input, takesTokens(), inputWidth);
    if (!in)
      return in.takeError();
    if (!profile || bench > 0)
      return convert(model->forward(in->view));
    // --profile without --bench: the kernel times of this forward.
    if (llvm::Error e = model->setProfiling(true))
      return std::move(e);
    llvm::Expected<Result> result = convert(model->forward(in->view));
    if (llvm::Error e = model->setProfiling(false))
      return std::move(e);
    llvm::Expected<std::vector<runtime::CudaBackend::KernelTime>> times =
        model->takeProfile();
    if (!times)
      return times.takeError();
    llvm::sort(*times, [](const auto &x, const auto &y) {
      return x.milliseconds > y.milliseconds;
    });
    double total = 0;
    for (const auto &k : *times)
      total += k.milliseconds;
    llvm::errs() << llvm::formatv("forward: {0} kernels, {1:F3} ms of kernel "
                                  "time; the most expensive:\n",
                                  times->size(), total);
    for (const auto &k : llvm::ArrayRef(*times).take_front(15))
      llvm::errs() << llvm::formatv("  {0,10:F3} ms {1,6}x  {2}\n",
                                    k.milliseconds, k.launches,
                                    model->getKernelName(k.kernel));
    return result;
  }
  llvm::Expected<Result>
  step(const reference::Tensor &input,
       llvm::ArrayRef<reference::Tensor> states) override {
    llvm::Expected<GPUInput> in = toGPUInput(input, takesTokens(), inputWidth);
    if (!in)
      return in.takeError();
    std::vector<runtime::HostArray> arrays;
    for (const reference::Tensor &t : states)
      arrays.push_back(toHostArray(t));
    return convert(model->step(in->view, arrays));
  }

  /// The states stay on the device between tokens (one upload of the
  /// prefill's, one download at the end); only each token's logits come
  /// back, for the argmax and the output file.
  llvm::Expected<Greedy> generateGreedy(std::vector<reference::Tensor> states,
                                        reference::Tensor first,
                                        int64_t count) override {
    int64_t batch = first.dim(0);
    llvm::Expected<std::unique_ptr<runtime::GPUModel::DeviceState>> state =
        model->createState(batch);
    if (!state)
      return state.takeError();
    llvm::scope_exit forget([&] { model->forgetState(**state); });
    std::vector<runtime::HostArray> arrays;
    for (const reference::Tensor &t : states)
      arrays.push_back(toHostArray(t));
    if (llvm::Error e = model->writeState(**state, arrays))
      return std::move(e);
    Greedy g{reference::Tensor({batch, count}), {}, {}};
    std::vector<int64_t> token(batch);
    for (int64_t b = 0; b < batch; ++b)
      token[b] = static_cast<int64_t>(first.data[b]);
    std::vector<float> logits(batch * outputWidth);
    for (int64_t t = 0; t < count; ++t) {
      for (int64_t b = 0; b < batch; ++b)
        g.tokens.data[b * count + t] = double(token[b]);
      runtime::GPUModel::HostInput one;
      one.tokens = token.data();
      one.batch = batch;
      one.seq = 1;
      if (llvm::Error e = model->decodeStep(one, **state, logits))
        return std::move(e);
      reference::Tensor out({batch, 1, outputWidth});
      std::copy(logits.begin(), logits.end(), out.data.begin());
      reference::Tensor next = argmaxLast(out);
      for (int64_t b = 0; b < batch; ++b)
        token[b] = static_cast<int64_t>(next.data[b]);
      g.logits.push_back(std::move(out));
    }
    llvm::Expected<std::vector<runtime::HostArray>> final =
        model->readState(**state);
    if (!final)
      return final.takeError();
    for (const runtime::HostArray &a : *final)
      g.states.push_back(toReference(a));
    return g;
  }

  /// A benchmark report as JSON on stdout and in --bench-json.
  static llvm::Error printReport(llvm::json::Object report) {
    std::string text =
        llvm::formatv("{0:2}", llvm::json::Value(std::move(report))).str();
    llvm::outs() << text << "\n";
    if (benchJson.empty())
      return llvm::Error::success();
    std::error_code ec;
    llvm::raw_fd_ostream os(benchJson, ec);
    if (ec)
      return llvm::createStringError("cannot write " + benchJson + ": " +
                                     ec.message());
    os << text << "\n";
    return llvm::Error::success();
  }

  /// --bench: device time of forward on `input`, as JSON on stdout (and
  /// in --bench-json).
  llvm::Error benchmark(const reference::Tensor &input,
                        llvm::StringRef modelName) {
    llvm::Expected<GPUInput> in = toGPUInput(input, takesTokens(), inputWidth);
    if (!in)
      return in.takeError();
    llvm::Expected<runtime::GPUModel::Benchmark> b =
        model->benchmarkForward(in->view, warmup, bench, profile);
    if (!b)
      return b.takeError();
    std::vector<double> ms = b->milliseconds;
    llvm::sort(ms);
    double sum = 0;
    for (double m : ms)
      sum += m;
    double median = ms.size() % 2
                        ? ms[ms.size() / 2]
                        : (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]) / 2;
    int64_t tokens = input.dim(0) * input.dim(1);
    llvm::json::Array kernels;
    std::vector<runtime::CudaBackend::KernelTime> byTime = b->kernels;
    llvm::sort(byTime, [](const auto &x, const auto &y) {
      return x.milliseconds > y.milliseconds;
    });
    // Also summed per op kind ("xlstm.causal_conv1d", "linalg" for the
    // projections and epilogues expand-blocks emits directly).
    std::map<std::string, double> perOp;
    for (const auto &k : byTime) {
      std::string name = model->getKernelName(k.kernel);
      // The memref arguments' bytes (each element once) over the time: the
      // bandwidth of a kernel that touches each element once (re-reads
      // make it more, views it reads only in part less); the launches'
      // views let a reader work out FLOPs (bench-summary.py does for
      // projections).
      llvm::json::Array launches;
      for (const auto &l : k.byViews) {
        llvm::json::Array views;
        for (const runtime::KernelArguments::View &v : l.views)
          views.push_back(llvm::json::Object{
              {"sizes", llvm::json::Array(v.sizes)},
              {"element_bytes", v.elementBytes}});
        launches.push_back(llvm::json::Object{
            {"views", std::move(views)}, {"launches", double(l.count) / bench}});
      }
      kernels.push_back(llvm::json::Object{
          {"kernel", name},
          {"launches_per_run", double(k.launches) / bench},
          {"ms_per_run", k.milliseconds / bench},
          {"view_bytes_per_run", double(k.viewBytes) / bench},
          {"view_gb_per_s",
           k.milliseconds > 0 ? double(k.viewBytes) / k.milliseconds / 1e6
                              : 0.0},
          {"launches_by_views", std::move(launches)}});
      llvm::StringRef op =
          llvm::StringRef(name).split(" (").first.split(" in ").first;
      if (!op.starts_with("xlstm."))
        op = "other (linalg: projections, elementwise, copies)";
      perOp[op.str()] += k.milliseconds / bench;
    }
    llvm::json::Object byOp;
    for (const auto &[op, ms] : perOp)
      byOp[op] = ms;
    llvm::json::Object report{
        {"model", modelName},
        {"device", context->getProperties().name},
        {"dtype", dtype.getValue()},
        {"batch", input.dim(0)},
        {"seqlen", input.dim(1)},
        {"warmup", warmup.getValue()},
        {"iterations", bench.getValue()},
        {"forward_ms", llvm::json::Object{{"median", median},
                                          {"min", ms.front()},
                                          {"max", ms.back()},
                                          {"mean", sum / ms.size()}}},
        {"tokens_per_second", tokens / (median / 1000)},
        {"profiled", profile.getValue()},
        {"cuda_graphs", model->getGraphReplay()}};
    if (profile) {
      report["launches_per_forward"] = int64_t(b->launchesPerRun);
      report["ms_per_op"] = std::move(byOp);
      report["kernels"] = std::move(kernels);
    }
    return printReport(std::move(report));
  }

  /// --bench-decode: prefill `input` into a device state, then `steps`
  /// greedy tokens, each timed on the host clock as a generating caller
  /// waits for it: with the bundle's sampling program, one graph launch
  /// (step and argmax on the GPU) and the copy of the new tokens; else (or
  /// with --host-sampling) the input copy, graph launch, logits copy and the
  /// host's argmax.
  llvm::Error benchmarkDecode(const reference::Tensor &input,
                              llvm::StringRef modelName, unsigned steps,
                              double loadSeconds) {
    using Clock = std::chrono::steady_clock;
    auto ms = [](Clock::time_point a, Clock::time_point b) {
      return std::chrono::duration<double, std::milli>(b - a).count();
    };
    int64_t b = input.dim(0), s = input.dim(1);
    bool tokens = model->getInputName() == "tokens";
    if (!tokens)
      return llvm::createStringError("--bench-decode needs a token model");
    std::vector<int64_t> prompt(input.data.begin(), input.data.end());
    llvm::Expected<std::unique_ptr<runtime::GPUModel::DeviceState>> state =
        model->createState(b);
    if (!state)
      return state.takeError();
    int64_t width = outputWidth;
    std::vector<float> logits(b * width);
    auto argmax = [&](std::vector<int64_t> &next) {
      for (int64_t r = 0; r < b; ++r) {
        const float *row = &logits[r * width];
        next[r] = std::max_element(row, row + width) - row;
      }
    };
    runtime::GPUModel::HostInput in{prompt.data(), nullptr, b, s};
    // One untimed prefill first: module loading and the pool warm up.
    if (llvm::Error e = model->prefill(in, **state, logits))
      return e;
    auto t0 = Clock::now();
    if (llvm::Error e = model->prefill(in, **state, logits))
      return e;
    double prefillMs = ms(t0, Clock::now());
    std::vector<int64_t> next(b);
    argmax(next);
    bool onDevice = model->canSampleOnDevice() && !hostSampling;
    if (onDevice) {
      std::vector<std::vector<int64_t>> history;
      for (int64_t r = 0; r < b; ++r)
        history.emplace_back(prompt.begin() + r * s,
                             prompt.begin() + (r + 1) * s);
      if (llvm::Error e = model->startSampling(
              **state, runtime::SamplingOptions{}, history, next, 0))
        return e;
    }
    if (profile) {
      model->setGraphReplay(false);
      if (llvm::Error e = model->setProfiling(true))
        return e;
    }
    std::vector<double> stepMs;
    unsigned warm = std::min<unsigned>(warmup, 16);
    for (unsigned i = 0; i < warm + steps; ++i) {
      auto start = Clock::now();
      if (onDevice) {
        if (llvm::Error e = model->generateStep(**state))
          return e;
        if (llvm::Error e = model->readTokens(**state, next))
          return e;
      } else {
        runtime::GPUModel::HostInput one{next.data(), nullptr, b, 1};
        if (llvm::Error e = model->decodeStep(one, **state, logits))
          return e;
        argmax(next);
      }
      if (i >= warm)
        stepMs.push_back(ms(start, Clock::now()));
      if (profile && i + 1 == warm)
        if (llvm::Expected<std::vector<runtime::CudaBackend::KernelTime>> t =
                model->takeProfile();
            !t)
          return t.takeError();
    }
    llvm::json::Array kernels;
    if (profile) {
      if (llvm::Error e = model->setProfiling(false))
        return e;
      llvm::Expected<std::vector<runtime::CudaBackend::KernelTime>> times =
          model->takeProfile();
      if (!times)
        return times.takeError();
      llvm::sort(*times, [](const auto &x, const auto &y) {
        return x.milliseconds > y.milliseconds;
      });
      for (const auto &k : *times)
        kernels.push_back(llvm::json::Object{
            {"kernel", model->getKernelName(k.kernel)},
            {"launches_per_step", double(k.launches) / steps},
            {"ms_per_step", k.milliseconds / steps}});
    }
    std::vector<double> sorted = stepMs;
    llvm::sort(sorted);
    auto at = [&](double q) {
      return sorted[std::min(sorted.size() - 1, size_t(q * sorted.size()))];
    };
    double median = sorted.size() % 2
                        ? sorted[sorted.size() / 2]
                        : (sorted[sorted.size() / 2 - 1] +
                           sorted[sorted.size() / 2]) /
                              2;
    size_t freeBytes = 0, totalBytes = 0;
    const runtime::CudaDriver &driver = context->getDriver();
    (void)driver.cuMemGetInfo(&freeBytes, &totalBytes);
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    llvm::json::Object report{
        {"model", modelName},
        {"device", context->getProperties().name},
        {"dtype", dtype.getValue()},
        {"batch", b},
        {"prompt_tokens", s},
        {"load_seconds", loadSeconds},
        {"peak_host_mb", double(usage.ru_maxrss) / 1024},
        {"device_memory_used_mb", double(totalBytes - freeBytes) / (1 << 20)},
        {"prefill_ms", prefillMs},
        {"prefill_tokens_per_second", double(b * s) / (prefillMs / 1000)},
        {"decode_steps", int64_t(steps)},
        {"decode_ms_per_step",
         llvm::json::Object{{"median", median},
                            {"p10", at(0.1)},
                            {"p90", at(0.9)},
                            {"min", sorted.front()},
                            {"max", sorted.back()}}},
        {"decode_tokens_per_second", double(b) / (median / 1000)},
        {"sampling", onDevice ? "gpu" : "host"},
        {"cuda_graphs", model->getGraphReplay()},
        {"profiled", profile.getValue()}};
    if (profile)
      report["kernels"] = std::move(kernels);
    model->forgetState(**state);
    return printReport(std::move(report));
  }
  /// The output's last dimension (the argmax of --bench-decode and
  /// --generate).
  int64_t outputWidth = 0;

private:
  CudaDevice() = default;
  static llvm::Expected<Result>
  convert(llvm::Expected<runtime::GPUModel::Result> r) {
    if (!r)
      return r.takeError();
    Result result{toReference(r->output), {}};
    for (const runtime::HostArray &state : r->states)
      result.states.push_back(toReference(state));
    return result;
  }
  bool takesTokens() const { return model->getInputName() == "tokens"; }
  int64_t inputWidth = 0; ///< embedding models: the width they read
  // The session tears down the model before its context and driver.
  std::optional<runtime::GPUSession> session;
  runtime::GPUModel *model = nullptr;        ///< the session's
  const runtime::Context *context = nullptr; ///< the session's
};

} // namespace

/// True for a folder holding a checkpoint (Hugging Face layout, or
/// safetensors files without an index).
bool folderHasWeights(llvm::StringRef path) {
  if (!llvm::sys::fs::is_directory(path))
    return false;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(path, ec), end; it != end && !ec;
       it.increment(ec))
    if (llvm::StringRef(it->path()).ends_with(".safetensors") ||
        llvm::StringRef(it->path()).ends_with(".safetensors.index.json"))
      return true;
  return false;
}

int main(int argc, char **argv) {
  llvm::InitLLVM y(argc, argv);
  xlstm::setVersionPrinter("xlstm-run");
  xlstm::reportFatalErrorsAsDiagnostics("xlstm-run");
  cl::HideUnrelatedOptions(runCategory);
  cl::ParseCommandLineOptions(argc, argv, "Run an xLSTM model\n");

  // Each generated token is a (batch, vocabulary) row of logits kept in
  // float64: a bound keeps an absurd count an error, not an abort.
  constexpr int64_t kMaxGenerate = int64_t(1) << 20;
  if (generate > kMaxGenerate)
    return fail("--generate " + std::to_string(generate.getValue()) +
                " is more than " + std::to_string(kMaxGenerate) + " tokens");
  if (steps < 0 || generate < 0 || batch < 0 || seqlen < 0)
    return fail("--steps, --generate, --batch and --seqlen must not be "
                "negative");
  if (dtype != "f32" && dtype != "bf16")
    return fail("--dtype must be f32 or bf16, got '" + dtype + "'");

  // MODEL is a config YAML, or a bundle carrying its config, graph IR and
  // GPU programs.
  bool isBundle = llvm::sys::path::extension(modelPath) == ".xlstmb";
  std::optional<config::ModelSpec> spec;
  std::optional<bundle::Bundle> modelBundle;
  if (isBundle) {
    llvm::Expected<bundle::Bundle> b = bundle::Bundle::open(modelPath);
    if (!b)
      return fail(b.takeError());
    modelBundle = std::move(*b);
    std::optional<llvm::StringRef> configText =
        modelBundle->manifest().getString("config");
    if (!configText)
      return fail(modelPath + ": the bundle has no config");
    spec = config::parseModelConfig(*configText, modelPath + ":config",
                                    llvm::errs());
  } else {
    spec = config::parseModelConfigFile(modelPath, llvm::errs(), schema);
  }
  if (!spec)
    return 1;

  std::unique_ptr<ModelDevice> model;
  if (device == Device::Cuda) {
    if (!isBundle)
      return fail("--device=cuda runs bundles: compile the config first "
                  "(xlstmc " +
                  modelPath + " -o model.xlstmb)");
    llvm::Expected<std::unique_ptr<CudaDevice>> cuda =
        CudaDevice::open(*modelBundle, *spec);
    if (!cuda)
      return fail(cuda.takeError());
    model = std::move(*cuda);
  } else {
#if XLSTM_HAVE_REFERENCE
    if (chunkSize <= 0)
      return fail("--chunk-size must be positive");
    mlir::DialectRegistry registry;
    registerAllDialects(registry);
    static mlir::MLIRContext context(registry);
    context.loadAllAvailableDialects();
    mlir::FailureOr<reference::ReferenceModel> ref = mlir::failure();
    reference::ReferenceOptions options{pipeline, chunkSize};
    if (isBundle) {
      const bundle::Bundle::SectionView *ir =
          modelBundle->find(kGraphSectionName);
      if (!ir)
        return fail(modelPath + ": the bundle has no graph IR");
      mlir::OwningOpRef<mlir::ModuleOp> module =
          reference::parseModelIR(ir->data, modelPath, context);
      if (!module)
        return 1;
      ref = reference::ReferenceModel::fromModule(std::move(module), options);
    } else {
      ref = reference::ReferenceModel::create(context, *spec, options);
    }
    if (mlir::failed(ref))
      return 1;
    model = std::make_unique<ReferenceDevice>(std::move(*ref));
#else
    return fail("--device=reference: this xlstm-run was built without the "
                "compiler (XLSTM_ENABLE_COMPILER=OFF); use --device=cuda");
#endif
  }

  config::SLSTMBackend layout = weights::checkpointLayout(*spec);
  // A model folder (Hugging Face layout) brings its weights.
  std::string weightsSource = weightsPath;
  if (weightsSource.empty() && folderHasWeights(modelPath))
    weightsSource = modelPath;
  // Checkpoints go to the device in their stored dtype; float64 values only
  // where they are written back.
  auto loadStart = std::chrono::steady_clock::now();
  std::optional<weights::Checkpoint> checkpoint;
  if (!weightsSource.empty() && saveWeightsPath.empty()) {
    auto start = std::chrono::steady_clock::now();
    auto seconds = [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                           start)
          .count();
    };
    llvm::Expected<weights::Checkpoint> opened =
        weights::Checkpoint::open(weightsSource);
    if (!opened)
      return fail(opened.takeError());
    checkpoint.emplace(std::move(*opened));
    llvm::Expected<std::vector<weights::BoundTensor>> bound =
        weights::bindCheckpoint(model->params(), *checkpoint, layout);
    if (!bound)
      return fail(bound.takeError());
    double bindSeconds = seconds();
    if (llvm::Error e = model->setParameters(*bound))
      return fail(std::move(e));
    if (timeLoad) {
      uint64_t bytes = 0;
      for (const weights::BoundTensor &b : *bound)
        bytes += b.bytes().size();
      llvm::errs() << llvm::formatv(
          "xlstm-run: weights: {0} tensors, {1:F2} GB stored, from {2} "
          "file(s): opened and bound in {3:F3} s, on the device after "
          "{4:F3} s\n",
          bound->size(), double(bytes) / 1e9, checkpoint->numShards(),
          bindSeconds, seconds());
    }
  } else {
    llvm::Expected<weights::ParamValues> loaded =
        weights::loadOrInitParameters(*spec, model->params(), weightsSource,
                                      seed);
    if (!loaded)
      return fail(loaded.takeError());
    weights::ParamValues params = std::move(*loaded);
    if (!saveWeightsPath.empty())
      if (llvm::Error e =
              weights::writeParameters(saveWeightsPath, model->params(),
                                       params, weights::DType::F32, layout))
        return fail(std::move(e));
    if (llvm::Error e = model->setParameters(std::move(params)))
      return fail(std::move(e));
  }

  double loadSeconds = std::chrono::duration<double>(
                           std::chrono::steady_clock::now() - loadStart)
                           .count();
  bool randomInput = batch > 0 || seqlen > 0;
  if (bench > 0 && device != Device::Cuda)
    return fail("--bench times the GPU: use it with --device=cuda");
  if ((outputPath.empty() && bench == 0 && benchDecode == 0) ||
      (inputsPath.empty() == !randomInput)) {
    if (!saveWeightsPath.empty() && inputsPath.empty() && outputPath.empty() &&
        !randomInput)
      return 0;
    return fail("give --output and either --inputs or --batch/--seqlen");
  }
  reference::Tensor input;
  if (randomInput) {
    if (batch < 1 || seqlen < 1)
      return fail("--batch and --seqlen must both be at least 1");
    if (llvm::Error e = model->checkSize(*spec, batch, seqlen))
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
    if (llvm::Error e = model->checkSize(*spec, input.dim(0), input.dim(1)))
      return fail(std::move(e));
  }

  if (benchDecode > 0) {
    if (device != Device::Cuda)
      return fail("--bench-decode times the GPU: use it with --device=cuda");
    auto *cuda = static_cast<CudaDevice *>(model.get());
    if (llvm::Error e =
            cuda->benchmarkDecode(input, modelPath, benchDecode, loadSeconds))
      return fail(std::move(e));
    return 0;
  }
  if (bench > 0) {
    auto *cuda = static_cast<CudaDevice *>(model.get());
    if (llvm::Error e = cuda->benchmark(input, modelPath))
      return fail(std::move(e));
    if (outputPath.empty())
      return 0;
  }

  llvm::Expected<ModelDevice::Result> prefill = model->forward(input);
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
      llvm::Expected<ModelDevice::Result> r =
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
    llvm::Expected<ModelDevice::Greedy> greedy =
        model->generateGreedy(state, argmaxLast(prefill->output), generate);
    if (!greedy)
      return fail(greedy.takeError());
    state = std::move(greedy->states);
    // Like upstream's generate(), which returns the state it updated in
    // place: the state after the prefill and all generated tokens.
    addStates("state");
    addOutput("generated_tokens", greedy->tokens, weights::DType::I64);
    addOutput("generated_logits", concatPositions(greedy->logits));
  }

  if (llvm::Error e = weights::writeSafetensors(
          outputPath, outputs,
          {{"device", device == Device::Cuda ? "cuda" : "reference"},
           {"format", "pt"}}))
    return fail(std::move(e));
  return 0;
}
