//===- GPUModel.h - A compiled model resident on one GPU --------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The C++ API of the GPU runtime: a bundle's host programs for one element
// type (f32 or bf16), their kernels loaded once, the parameters uploaded
// once; `forward` (prefill, returning the final states) and `step` (one
// position from given states) run the host programs on the device. Inputs
// cross the API as int64 tokens or float32 embeddings, outputs and states
// as host arrays in the programs' element types (float64 is the reference
// device's alone); tokens are checked against the vocabulary before
// anything is launched.
//
// MLIR-free: builds with the runtime on machines that have CUDA but no MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_RUNTIME_GPUMODEL_H
#define XLSTM_RUNTIME_GPUMODEL_H

#include "xlstm/Bundle/Bundle.h"
#include "xlstm/Runtime/CudaObjects.h"
#include "xlstm/Runtime/HostArray.h"
#include "xlstm/Runtime/HostProgram.h"
#include "xlstm/Runtime/Sampling.h"
#include "xlstm/Weights/ParameterBinding.h"

#include "llvm/ADT/StringMap.h"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace xlstm::runtime {

/// The checkpoint dtype of a program element type (the encoding the
/// weights layer converts to and from).
weights::DType toDType(ElementKind kind);

class GPUModel {
public:
  /// Outputs and states in the element types the program returns them in.
  struct Result {
    HostArray output;
    std::vector<HostArray> states; ///< in getStateNames() order
  };

  /// An input of `batch` x `seq` positions on the host: int64 tokens for
  /// token models, else float32 embeddings (batch, seq, E), row-major.
  struct HostInput {
    const int64_t *tokens = nullptr;
    const float *embeddings = nullptr;
    int64_t batch = 0, seq = 0;
  };

  /// Loads the programs `forward_<dtype>` / `step_<dtype>` of `bundle` and
  /// their kernels into `context` (which must outlive the model).
  /// `vocabSize` bounds token inputs (0: the model takes embeddings).
  static llvm::Expected<std::unique_ptr<GPUModel>>
  load(const bundle::Bundle &bundle, const Context &context,
       llvm::StringRef dtype, int64_t vocabSize);
  ~GPUModel();

  /// The parameters the bundle's parameter table lists, in order.
  llvm::ArrayRef<weights::ParamDesc> getParams() const { return params; }
  llvm::StringRef getInputName() const { return inputName; }
  llvm::StringRef getOutputName() const { return outputName; }
  llvm::ArrayRef<std::string> getStateNames() const { return stateNames; }

  /// Converts the values (one per getParams() entry, row-major, any float
  /// type) to the programs' element type and uploads them.
  llvm::Error setParameters(llvm::ArrayRef<HostArray> values);
  /// Uploads parameters bound in a checkpoint (one per getParams() entry)
  /// as they are stored; a tensor in another float type is converted on
  /// the GPU by the bundle's `convert_<stored>_<dtype>` program (on the
  /// host, through one reusable staging buffer, for bundles without it and
  /// for layout changes): no float64 values and no whole-model host copy
  /// (the checkpoint itself is memory-mapped).
  llvm::Error setParameters(llvm::ArrayRef<weights::BoundTensor> bound);

  /// The whole sequence from zero states: every position's output and the
  /// final states, copied to the host.
  llvm::Expected<Result> forward(const HostInput &input);
  /// One position (`input.seq` = 1) from `states` (host arrays of the state
  /// table's shapes in any float type; converted to the program's).
  llvm::Expected<Result> step(const HostInput &input,
                              llvm::ArrayRef<HostArray> states);
  /// Zero states for `batch` rows (the shapes of the state table, the step
  /// program's element types).
  std::vector<HostArray> zeroStates(int64_t batch) const;

  //===--------------------------------------------------------------------===//
  // Device-resident decoding
  //===--------------------------------------------------------------------===//

  /// The recurrent states of `batch` rows, kept on the device between
  /// calls (the program's element types: f32 or bf16). Reading them back is
  /// explicit (readState). Owned by the caller; the model must outlive it,
  /// and forgetState releases what the model keeps for it.
  class DeviceState {
  public:
    int64_t getBatch() const { return batch; }

  private:
    friend class GPUModel;
    int64_t batch = 0;
    uint64_t id = 0;
    std::vector<Value> values; ///< in getStateNames() order
    /// Buffers of the same shapes that a decode step writes its new states
    /// into (no copy-back); the two sets swap after every step, and
    /// `parity` says which physical set is current (one recording each).
    std::vector<Value> spare;
    bool parity = false;
    /// After a step wrote the new states into `spare`: they are current.
    void swapSets() {
      std::swap(values, spare);
      parity = !parity;
    }
    /// Sampling on the device (startSampling): the tokens the next step
    /// reads and the sampler overwrites (B, 1) i64, the seen-token bitmap
    /// (B, ceil(V/32)) i32, the settings (4) f32, seed and draws (B, 2) i64.
    Value tokens, seen, settings, rng;
  };

  /// Zero states for `batch` rows on the device.
  llvm::Expected<std::unique_ptr<DeviceState>> createState(int64_t batch);
  /// Drops the step recordings made for `state` (before it is destroyed).
  void forgetState(const DeviceState &state);
  /// Copies the states to the host (getStateNames() order, in the
  /// program's element types).
  llvm::Expected<std::vector<HostArray>> readState(const DeviceState &state);
  /// Replaces the states by host values (shapes of the state table, any
  /// float type).
  llvm::Error writeState(DeviceState &state, llvm::ArrayRef<HostArray> values);
  /// Copies all rows of `from` into rows [firstRow, firstRow + its batch)
  /// of `to`, on the device (prompts of different lengths prefill alone,
  /// then decode as one batch).
  llvm::Error copyStateRows(const DeviceState &from, DeviceState &to,
                            int64_t firstRow);

  /// Prefill: runs the prefill program (token models: the forward with the
  /// LM head on the last position only; else the forward program) on
  /// `input` from zero states, writes the final states into `state` (of the
  /// same batch) on the device and copies the output of the last position
  /// only to `lastOutput` as float32 (batch x output width; may be empty to
  /// skip it).
  llvm::Error prefill(const HostInput &input, DeviceState &state,
                      llvm::MutableArrayRef<float> lastOutput);
  /// One position per row (`input.seq` = 1) from `state`, which is updated
  /// on the device; the output goes to `output` (batch x output width,
  /// float32). With graph replay on, the step for a (batch, state) pair is
  /// recorded once, including the copy of the new states into `state`'s
  /// buffers: a token is then one host-to-device copy of the input, one
  /// graph launch and one copy of the output back.
  llvm::Error decodeStep(const HostInput &input, DeviceState &state,
                         llvm::MutableArrayRef<float> output);

  /// Whether the bundle has the sampling program (`sample_<dtype>`, which
  /// xlstmc adds to token models): then generateStep samples on the GPU.
  bool canSampleOnDevice() const { return sampleProgram.has_value(); }
  /// Prepares `state` for generateStep: the sampling settings; each row's
  /// seed and draws so far (`draws`: a row's stream continues where a host
  /// Sampler of that row left off); the tokens each row has seen
  /// (`history`, for the repetition penalty); and `next`, the token each
  /// row feeds the next step. Buffers are allocated once per state, so
  /// recorded steps stay valid across calls.
  llvm::Error startSampling(DeviceState &state, const SamplingOptions &options,
                            llvm::ArrayRef<std::vector<int64_t>> history,
                            llvm::ArrayRef<int64_t> next, uint64_t draws);
  /// One generated token per row without the host: the step program reads
  /// the state's tokens, the sampling program writes each row's next token
  /// in their place and marks it seen. With graph replay on, both are one
  /// recording (per state and parity): a token is one graph launch.
  llvm::Error generateStep(DeviceState &state);
  /// Copies the state's tokens (what the last generateStep sampled, one per
  /// row) to `out` (waits for the GPU).
  llvm::Error readTokens(const DeviceState &state,
                         llvm::MutableArrayRef<int64_t> out);

  /// CUDA-graph replay of `forward` and `step` (on by default): the second
  /// call for an input shape (and program) records the launches into a
  /// graph, every later call with that shape copies its inputs into the
  /// recorded buffers and replays the graph with one launch. The first call
  /// of a shape, and any shape whose recording fails, run launch by launch.
  /// A recording pins the buffers of a whole run: the kMaxRecordings most
  /// recently used are kept. Recordings are dropped when this is turned off
  /// or the parameters change. While a model records, other threads must
  /// not use the GPU context (CUDA invalidates a capture when the legacy
  /// stream is used meanwhile).
  void setGraphReplay(bool on);
  bool getGraphReplay() const { return graphReplay; }
  size_t getNumRecordings() const;
  static constexpr size_t kMaxRecordings = 16;

  /// Device time of `forward` on `input`, inputs already on the device and
  /// outputs left there: `warmup` untimed runs, then one CUDA-event pair per
  /// timed run; with `profile`, also the time per kernel over the timed runs
  /// (launch by launch: profiling runs without graph replay).
  struct Benchmark {
    std::vector<double> milliseconds; ///< one per timed run
    std::vector<CudaBackend::KernelTime> kernels;
    size_t launchesPerRun = 0;
  };
  llvm::Expected<Benchmark> benchmarkForward(const HostInput &input,
                                             unsigned warmup,
                                             unsigned iterations, bool profile);
  /// Per-kernel timing of the following runs (an event pair per launch);
  /// takeProfile() waits for them and returns the times per kernel.
  llvm::Error setProfiling(bool on) { return backend->setProfiling(on); }
  llvm::Expected<std::vector<CudaBackend::KernelTime>> takeProfile() {
    return backend->takeProfile();
  }
  /// "origin (module::function)" of kernel `index` of the kernel table
  /// ("origin (module::function, overlapped)" for a waiting entry).
  std::string getKernelName(unsigned index) const;

private:
  GPUModel() = default;
  /// Allocates every parameter and uploads the bytes `encode(i, dtype,
  /// staging)` gives for parameter i with their dtype: the program's
  /// element type `dtype`, or one the bundle converts from on the device.
  /// Then calls `uploaded(i)` (if given).
  llvm::Error uploadParameters(
      size_t count,
      llvm::function_ref<std::pair<llvm::ArrayRef<uint8_t>, weights::DType>(
          size_t, weights::DType, std::vector<uint8_t> &)>
          encode,
      llvm::function_ref<void(size_t)> uploaded = nullptr);
  /// Uploads `data` (stored as `stored`) and converts it into `target` with
  /// the bundle's conversion program.
  llvm::Error convertOnDevice(llvm::ArrayRef<uint8_t> data,
                              weights::DType stored, const MemRefValue &target);
  /// A host value checked and encoded as one of a program's arguments.
  struct EncodedArgument {
    ElementKind element;
    llvm::SmallVector<int64_t, 4> shape; ///< inputs: (batch, seq[, width])
    std::vector<uint8_t> bytes;
  };
  /// Uploads the input and the states and orders the program's arguments.
  llvm::Expected<std::vector<Value>> prepare(const HostProgram &program,
                                             const EncodedArgument &input,
                                             llvm::ArrayRef<HostArray> states);
  llvm::Expected<Result> run(const HostProgram &program,
                             const HostInput &input,
                             llvm::ArrayRef<HostArray> states);
  /// `t` converted to the element type of `program`'s argument `name`.
  llvm::Expected<EncodedArgument> encodeArgument(const HostProgram &program,
                                                 llvm::StringRef name,
                                                 const HostArray &t) const;
  /// Downloads `program`'s results as they are.
  llvm::Expected<Result> collect(const HostProgram &program,
                                 llvm::ArrayRef<Value> results);

  llvm::Expected<EncodedArgument> encodeHostInput(const HostProgram &program,
                                               const HostInput &input) const;
  /// A fresh device buffer holding `input`.
  llvm::Expected<Value> uploadArgument(const EncodedArgument &input);
  /// Copies the rows of `output` (batch, seq, width) at position `position`
  /// to `out` as float32.
  llvm::Error copyOutputRows(const Value &output, int64_t position,
                             llvm::MutableArrayRef<float> out);
  /// The program's parameters plus `named`, in argument order.
  llvm::Expected<std::vector<Value>>
  bindWithParameters(const HostProgram &program, llvm::StringMap<Value> named);

  /// Enqueues the step program on `input` and `state`'s states, the new
  /// states landing in the state's spare buffers; `results` are the
  /// program's. The caller swaps the state's sets afterwards.
  llvm::Error enqueueStep(DeviceState &state, const Value &input,
                          std::vector<Value> &results);
  /// The step program's output among its results.
  llvm::Expected<Value> stepOutput(llvm::ArrayRef<Value> results) const;
  /// Enqueues the sampling program on `logits` and `state`'s buffers.
  llvm::Error enqueueSample(DeviceState &state, const Value &logits);

  /// A step recorded for one state and parity: its input buffer and
  /// results.
  struct DecodeGraph {
    std::unique_ptr<CudaBackend::Recording> recording;
    Value input;
    std::vector<Value> results;
    uint64_t lastUse = 0;
  };
  /// (state id, batch * 2 + parity) for decodeStep, (state id, parity)
  /// for generateStep.
  using DecodeGraphKey = std::pair<uint64_t, int64_t>;
  using DecodeGraphMap = std::map<DecodeGraphKey, DecodeGraph>;
  DecodeGraphMap decodeGraphs;
  /// Records `enqueue(graph)` as the graph of `key` (dropping the least
  /// recently used one when kMaxRecordings are kept); end() when capture
  /// fails, and the caller runs launch by launch.
  DecodeGraphMap::iterator
  recordDecodeGraph(DecodeGraphKey key, DecodeGraph graph,
                    llvm::function_ref<llvm::Error(DecodeGraph &)> enqueue);
  uint64_t nextStateId = 0;

  using ShapeKey = std::pair<const HostProgram *, std::vector<int64_t>>;
  static ShapeKey shapeKey(const HostProgram &program,
                           const EncodedArgument &input);

  /// A recorded run: its arguments (inputs and states: the buffers a replay
  /// reads, refilled before each), its results (the buffers it writes).
  struct Recorded {
    std::unique_ptr<CudaBackend::Recording> recording;
    std::vector<Value> arguments, results;
    uint64_t lastUse = 0;
  };
  /// The recording of `program` for `input`'s shape, made on first use
  /// (which uploads the inputs); later uses refill its argument buffers.
  llvm::Expected<Recorded *> recorded(const HostProgram &program,
                                      const EncodedArgument &input,
                                      llvm::ArrayRef<HostArray> states);

  const Context *context = nullptr;
  std::unique_ptr<CudaBackend> backend;
  std::vector<KernelRef> kernels;
  std::optional<HostProgram> forwardProgram, stepProgram, sampleProgram;
  /// The forward with the logits of the last position only (token models).
  std::optional<HostProgram> prefillProgram;
  /// Checkpoint storage type -> the program converting it to the
  /// parameters' type on the device.
  std::map<weights::DType, HostProgram> converters;
  std::vector<weights::ParamDesc> params;
  /// Parameters on the device, by name.
  llvm::StringMap<Value> parameterValues;
  std::string inputName, outputName;
  std::vector<std::string> stateNames;
  std::vector<llvm::SmallVector<int64_t, 4>> stateShapes; ///< -1 = batch
  int64_t vocabSize = 0;
  bool graphReplay = true;
  /// Recordings by (program, input shape), runs of shapes not recorded
  /// yet, shapes whose recording failed.
  std::map<ShapeKey, Recorded> recordings;
  std::map<ShapeKey, unsigned> runsWithoutGraph;
  std::set<ShapeKey> unrecordable;
  uint64_t useClock = 0;
};

/// What every GPU client of a bundle sets up (the C API, xlstm-run,
/// xlstm-generate): the driver library, a context on one device and the
/// model, owned together and torn down in the order CUDA needs (the model,
/// then the context, then the driver).
class GPUSession {
public:
  /// Loads the driver, creates a context on device `ordinal` and loads the
  /// `dtype` programs of `bundle` (`vocabSize` bounds token inputs; 0 for
  /// models that take embeddings). The bundle must outlive the session.
  static llvm::Expected<GPUSession> open(const bundle::Bundle &bundle,
                                         llvm::StringRef dtype,
                                         int64_t vocabSize, int ordinal = 0);

  GPUModel &getModel() const { return *model; }
  const Context &getContext() const { return *context; }

private:
  GPUSession() = default;
  // Declaration order is construction order; destruction runs backwards.
  std::unique_ptr<CudaDriver> driver;
  std::unique_ptr<Context> context;
  std::unique_ptr<GPUModel> model;
};

} // namespace xlstm::runtime

#endif // XLSTM_RUNTIME_GPUMODEL_H
