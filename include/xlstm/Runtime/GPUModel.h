//===- GPUModel.h - A compiled model resident on one GPU --------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The C++ API of the GPU runtime: a bundle's host programs for one element
// type (f32 or bf16), their kernels loaded once, the parameters uploaded
// once; `forward` (prefill, returning the final states) and `step` (one
// position from given states) run the host programs on the device. Inputs,
// outputs and states cross the API as host float64 tensors; tokens are
// checked against the vocabulary before anything is launched.
//
// MLIR-free: builds with the runtime on machines that have CUDA but no MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_RUNTIME_GPUMODEL_H
#define XLSTM_RUNTIME_GPUMODEL_H

#include "xlstm/Bundle/Bundle.h"
#include "xlstm/Reference/Tensor.h"
#include "xlstm/Runtime/CudaObjects.h"
#include "xlstm/Runtime/HostProgram.h"
#include "xlstm/Weights/ParameterBinding.h"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace xlstm::runtime {

using HostTensor = reference::Tensor;

class GPUModel {
public:
  struct Result {
    HostTensor output;
    std::vector<HostTensor> states; ///< in getStateNames() order
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

  /// Converts the values (one per getParams() entry, row-major) to the
  /// programs' element type and uploads them.
  llvm::Error setParameters(const weights::ParamValues &values);
  /// Uploads parameters bound in a checkpoint (one per getParams() entry),
  /// each converted from its stored dtype straight to the programs' element
  /// type through one reusable staging buffer: no float64 values and no
  /// whole-model host copy (the checkpoint itself is memory-mapped).
  llvm::Error setParameters(llvm::ArrayRef<weights::BoundTensor> bound);

  /// The whole sequence from zero states.
  llvm::Expected<Result> forward(const HostTensor &input);
  /// One position (input of length 1) from `states`.
  llvm::Expected<Result> step(const HostTensor &input,
                              llvm::ArrayRef<HostTensor> states);
  /// Zero states for `batch` rows (the shapes of the state table).
  std::vector<HostTensor> zeroStates(int64_t batch) const;

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
  static constexpr size_t kMaxRecordings = 8;

  /// Device time of `forward` on `input`, inputs already on the device and
  /// outputs left there: `warmup` untimed runs, then one CUDA-event pair per
  /// timed run; with `profile`, also the time per kernel over the timed runs
  /// (launch by launch: profiling runs without graph replay).
  struct Benchmark {
    std::vector<double> milliseconds; ///< one per timed run
    std::vector<CudaBackend::KernelTime> kernels;
    size_t launchesPerRun = 0;
  };
  llvm::Expected<Benchmark> benchmarkForward(const HostTensor &input,
                                             unsigned warmup,
                                             unsigned iterations, bool profile);
  /// Per-kernel timing of the following runs (an event pair per launch);
  /// takeProfile() waits for them and returns the times per kernel.
  llvm::Error setProfiling(bool on) { return backend->setProfiling(on); }
  llvm::Expected<std::vector<CudaBackend::KernelTime>> takeProfile() {
    return backend->takeProfile();
  }
  /// "origin (module::function)" of kernel `index` of the kernel table.
  std::string getKernelName(unsigned index) const;

private:
  GPUModel() = default;
  /// Allocates every parameter and uploads the bytes `encode(i, dtype,
  /// staging)` gives for parameter i in its program's element type, then
  /// calls `uploaded(i)` (if given).
  llvm::Error uploadParameters(
      size_t count,
      llvm::function_ref<llvm::ArrayRef<uint8_t>(size_t, weights::DType,
                                                 std::vector<uint8_t> &)>
          encode,
      llvm::function_ref<void(size_t)> uploaded = nullptr);
  /// Checks the input, uploads it and the states, and orders the
  /// program's arguments.
  llvm::Expected<std::vector<Value>> prepare(const HostProgram &program,
                                             const HostTensor &input,
                                             llvm::ArrayRef<HostTensor> states);
  llvm::Expected<Result> run(const HostProgram &program,
                             const HostTensor &input,
                             llvm::ArrayRef<HostTensor> states);
  /// Checks tokens against the vocabulary.
  llvm::Error checkInput(const HostTensor &input) const;
  /// Encodes `t` in the element type of `program`'s argument `name`.
  llvm::Expected<std::pair<ElementKind, std::vector<uint8_t>>>
  encodeArgument(const HostProgram &program, llvm::StringRef name,
                 const HostTensor &t) const;
  /// Downloads `program`'s results into host float64.
  llvm::Expected<Result> collect(const HostProgram &program,
                                 llvm::ArrayRef<Value> results);

  using ShapeKey = std::pair<const HostProgram *, std::vector<int64_t>>;
  static ShapeKey shapeKey(const HostProgram &program, const HostTensor &input);

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
                                      const HostTensor &input,
                                      llvm::ArrayRef<HostTensor> states);

  const Context *context = nullptr;
  std::unique_ptr<CudaBackend> backend;
  std::vector<KernelRef> kernels;
  std::optional<HostProgram> forwardProgram, stepProgram;
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

} // namespace xlstm::runtime

#endif // XLSTM_RUNTIME_GPUMODEL_H
