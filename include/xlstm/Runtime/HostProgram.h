//===- HostProgram.h - Interpreting a bundle's host programs ----*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// A host program (docs/host-program.md) is the JSON rendering of a host
// function after kernel outlining: index arithmetic on run-time sizes,
// device allocations, views, loops and kernel launches. This file parses and
// validates one (HostProgram::parse) and runs it (execute) against a
// DeviceBackend: CudaBackend on a GPU, or a fake in the unit tests.
//
// Validation happens once, at parse time: op names, operand and result
// counts, types, regions, kernel indices and that every value is defined
// once before its uses. What only the run can know (sizes, bounds, division
// by zero) is checked while executing; no program, however malformed, makes
// a kernel see a view outside its allocation.
//
// LLVM Support only: no MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_RUNTIME_HOSTPROGRAM_H
#define XLSTM_RUNTIME_HOSTPROGRAM_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace xlstm::runtime {

class Context;
class Stream;

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

enum class ScalarKind : uint8_t { Index, I64, I32, I1, F32, F64 };
enum class ElementKind : uint8_t { F32, BF16, F16, F64, I64, I32 };

/// Bits of an integer scalar (index: 64); 0 for floats.
unsigned getIntegerWidth(ScalarKind kind);
bool isInteger(ScalarKind kind);
llvm::StringRef getName(ScalarKind kind);
llvm::StringRef getName(ElementKind kind);
size_t getElementBytes(ElementKind kind);

/// A dynamic size, stride or offset (JSON null), as in MLIR.
constexpr int64_t kDynamic = INT64_MIN;

struct MemRefType {
  ElementKind element = ElementKind::F32;
  llvm::SmallVector<int64_t, 4> shape;   ///< kDynamic where unknown
  llvm::SmallVector<int64_t, 4> strides; ///< kDynamic where unknown
  int64_t offset = 0;                    ///< kDynamic where unknown

  size_t getRank() const { return shape.size(); }
  bool operator==(const MemRefType &other) const {
    return element == other.element && shape == other.shape &&
           strides == other.strides && offset == other.offset;
  }
};

/// A TYPE of docs/host-program.md: a scalar or a ranked memref.
struct Type {
  bool memref = false;
  ScalarKind scalar = ScalarKind::Index; ///< when !memref
  MemRefType memrefType;                 ///< when memref

  static Type getScalar(ScalarKind kind) {
    Type type;
    type.scalar = kind;
    return type;
  }
  static Type getMemRef(MemRefType memrefType) {
    Type type;
    type.memref = true;
    type.memrefType = std::move(memrefType);
    return type;
  }
  bool isMemRef() const { return memref; }
  bool isIntegerScalar() const { return !memref && isInteger(scalar); }
  bool isFloatScalar() const { return !memref && !isInteger(scalar); }
  bool operator==(const Type &other) const {
    return memref == other.memref &&
           (memref ? memrefType == other.memrefType : scalar == other.scalar);
  }
  bool operator!=(const Type &other) const { return !(*this == other); }
};

/// Parses a TYPE; `what` names it in messages ("argument 'x'").
llvm::Expected<Type> parseType(const llvm::json::Value &json,
                               const llvm::Twine &what);
/// "index", "memref<?x128xf32, strided<[128, 1], offset: 0>>".
std::string toString(const Type &type);

//===----------------------------------------------------------------------===//
// Run-time values
//===----------------------------------------------------------------------===//

/// Device memory from a DeviceBackend. The backend's subclass returns it (to
/// the driver or a pool) when the last reference goes.
class Allocation {
public:
  Allocation(uint64_t address, size_t bytes) : address(address), bytes(bytes) {}
  virtual ~Allocation();
  Allocation(const Allocation &) = delete;
  Allocation &operator=(const Allocation &) = delete;

  /// The device address of the first byte (what kernels receive).
  uint64_t getAddress() const { return address; }
  /// The usable bytes: exactly what was asked for.
  size_t getBytes() const { return bytes; }

private:
  uint64_t address;
  size_t bytes;
};

/// A strided view of an allocation; offset, sizes and strides in elements.
struct MemRefValue {
  std::shared_ptr<Allocation> allocation;
  ElementKind element = ElementKind::F32;
  int64_t offset = 0;
  llvm::SmallVector<int64_t, 4> sizes;
  llvm::SmallVector<int64_t, 4> strides;

  size_t getRank() const { return sizes.size(); }
  /// The number of elements, or nullopt when it overflows int64.
  std::optional<int64_t> getNumElements() const;
  /// Success when every element the view can reach lies inside its
  /// allocation (an empty view reaches none); `what` names the view.
  llvm::Error checkInBounds(const llvm::Twine &what) const;
  /// Row-major without gaps (dimensions of size 1 may have any stride).
  bool isContiguous() const;
};

/// A run-time value: nothing (not yet defined, or deallocated), an integer
/// (an int64 holding the type's width: sign-extended, i1 as 0 or 1), a float
/// (a double, narrowed when passed as f32) or a memref descriptor.
class Value {
public:
  enum class Kind : uint8_t { None, Integer, Float, MemRef };

  Value() = default;
  static Value getInteger(int64_t value) { return Value(value); }
  static Value getFloat(double value) { return Value(value); }
  static Value getMemRef(MemRefValue value) { return Value(std::move(value)); }

  Kind getKind() const { return Kind(storage.index()); }
  bool isNone() const { return getKind() == Kind::None; }
  int64_t getInteger() const { return std::get<int64_t>(storage); }
  double getFloat() const { return std::get<double>(storage); }
  const MemRefValue &getMemRef() const {
    return std::get<MemRefValue>(storage);
  }

private:
  template <typename T> explicit Value(T value) : storage(std::move(value)) {}

  std::variant<std::monostate, int64_t, double, MemRefValue> storage;
};

/// Checks that `value` is of `type` (element type, rank, static sizes,
/// strides and offset; integers within the width) and lies inside its
/// allocation. Returns the value as the program holds it (integers wrapped
/// to their width). `what` names it in messages ("argument 'x'").
llvm::Expected<Value> checkValue(const Value &value, const Type &type,
                                 const llvm::Twine &what);

//===----------------------------------------------------------------------===//
// Programs
//===----------------------------------------------------------------------===//

/// One entry of a manifest's "kernels": function `name` of the PTX module
/// `module` stored in bundle section `section`.
struct KernelRef {
  std::string module;
  std::string name;
  std::string section;
  /// What the kernel computes, e.g. "xlstm.causal_conv1d in blocks.0"
  /// (optional, for profiles).
  std::string origin;
  /// Cubins of the same image by architecture ("sm_90" -> section),
  /// optional; a device of that architecture loads them instead of JIT-ing
  /// the PTX.
  std::vector<std::pair<std::string, std::string>> cubins;
  /// The kernel starts with griddepcontrol.wait: it may be launched with
  /// programmatic stream serialization (overlapping the previous kernel's
  /// end).
  bool waitsOnPreviousGrid = false;
};

/// Parses a manifest's "kernels" array.
llvm::Expected<std::vector<KernelRef>>
parseKernels(const llvm::json::Value &kernels);

enum class OpKind : uint8_t {
#define HOST_OP(Kind, Name, Category) Kind,
#include "xlstm/Runtime/HostOps.def"
};

/// The name in the op table ("arith.addi").
llvm::StringRef getName(OpKind kind);

enum class CmpPredicate : uint8_t {
  EQ,
  NE,
  SLT,
  SLE,
  SGT,
  SGE,
  ULT,
  ULE,
  UGT,
  UGE
};

struct Op;

/// A region of scf.for or scf.if.
struct Region {
  llvm::SmallVector<uint32_t, 4> arguments;
  std::vector<Op> body;
  llvm::SmallVector<uint32_t, 4> yields;
};

/// One validated op. Only the fields of its kind are meaningful.
struct Op {
  OpKind kind = OpKind::Constant;
  /// Where the op is, for messages: "op 3 (scf.for) > body op 1 (arith.addi)".
  std::string location;
  llvm::SmallVector<uint32_t, 4> operands;
  llvm::SmallVector<uint32_t, 2> results;
  llvm::SmallVector<Type, 1> resultTypes;

  /// arith.constant: the value (integers wrapped to the width).
  Value constant;
  CmpPredicate predicate = CmpPredicate::EQ;
  /// cmpi, the casts, scf.for: the integer type of operand 0.
  ScalarKind operandType = ScalarKind::Index;
  /// subview: offsets, sizes, strides; reinterpret_cast: one offset, sizes,
  /// strides; expand_shape: the output shape in staticSizes. kDynamic means
  /// the next dynamic operand.
  llvm::SmallVector<int64_t, 4> staticOffsets, staticSizes, staticStrides;
  /// subview: the source dimensions the result drops (ascending).
  llvm::SmallVector<unsigned, 2> droppedDims;
  /// expand_shape, collapse_shape: the groups of the larger-rank side.
  llvm::SmallVector<llvm::SmallVector<unsigned, 2>, 4> reassociation;
  /// gpu.launch_func.
  unsigned kernel = 0;
  std::array<uint32_t, 3> grid = {}, block = {};
  std::optional<uint32_t> sharedMemory;
  llvm::SmallVector<uint32_t, 8> args;
  llvm::SmallVector<Type, 8> argTypes;
  /// scf.for: {body}; scf.if: {then, else}.
  llvm::SmallVector<Region, 2> regions;
};

struct ProgramArgument {
  std::string name;
  /// "input", "parameter", "state", or "buffer" (read and written in
  /// place: the sampling program's logits, seen, settings, rng, tokens).
  std::string role;
  Type type;
};

struct ProgramResult {
  std::string name;
  Type type;
};

/// A parsed and validated PROGRAM. Immutable; may be executed concurrently.
class HostProgram {
public:
  /// Deepest scf region nesting accepted (hostile input must not exhaust the
  /// stack of the parser or the interpreter).
  static constexpr unsigned kMaxRegionDepth = 64;
  /// Most ops one execution may run (loop bodies counted per trip): far
  /// above any model's (the generic sLSTM at a million positions runs ~10^8),
  /// and a bound on what a hostile loop bound can make the interpreter do.
  static constexpr uint64_t kMaxExecutedOps = uint64_t(1) << 30;

  /// Parses and validates `program`; `kernels` is the manifest's table that
  /// gpu.launch_func indexes. Errors name the op ("op 3 (scf.for) > body op
  /// 1 (arith.addi): ...") and what was expected.
  static llvm::Expected<HostProgram> parse(const llvm::json::Value &program,
                                           llvm::ArrayRef<KernelRef> kernels);

  llvm::ArrayRef<ProgramArgument> getArguments() const { return arguments; }
  llvm::ArrayRef<ProgramResult> getResults() const { return results; }
  /// The top-level ops, ending with func.return.
  llvm::ArrayRef<Op> getBody() const { return body; }
  /// Values are ids in [0, getNumValues()).
  size_t getNumValues() const { return numValues; }
  /// The position of argument `name`, if there is one.
  std::optional<unsigned> findArgument(llvm::StringRef name) const;

private:
  HostProgram() = default;
  friend class ProgramParser;

  std::vector<ProgramArgument> arguments;
  std::vector<ProgramResult> results;
  std::vector<Op> body;
  size_t numValues = 0;
};

//===----------------------------------------------------------------------===//
// Execution
//===----------------------------------------------------------------------===//

/// Launch shape of one gpu.launch_func.
struct LaunchShape {
  std::array<unsigned, 3> grid = {1, 1, 1}, block = {1, 1, 1};
  unsigned sharedMemoryBytes = 0;
};

/// Kernel parameters packed the way MLIR's NVVM lowering expects
/// (docs/host-program.md): every parameter in its own 8-byte slot of stable
/// storage, and `pointers` (cuLaunchKernel's kernelParams) pointing at them.
class KernelArguments {
public:
  /// Packs `values` of `types`; fails for an i1 or an unknown kind.
  static llvm::Expected<KernelArguments> pack(llvm::ArrayRef<Value> values,
                                              llvm::ArrayRef<Type> types);

  KernelArguments() = default;
  // Moving keeps the storage (and so the pointers) in place.
  KernelArguments(KernelArguments &&) noexcept = default;
  KernelArguments &operator=(KernelArguments &&) noexcept = default;
  KernelArguments(const KernelArguments &) = delete;
  KernelArguments &operator=(const KernelArguments &) = delete;

  llvm::ArrayRef<void *> getPointers() const { return pointers; }
  /// Bytes of parameter `i` (4 or 8).
  size_t getSize(size_t i) const { return sizes[i]; }
  size_t size() const { return pointers.size(); }

  /// A memref argument's view: its sizes and its element's bytes.
  struct View {
    llvm::SmallVector<int64_t, 4> sizes;
    unsigned elementBytes = 0;
    bool operator==(const View &other) const {
      return sizes == other.sizes && elementBytes == other.elementBytes;
    }
  };
  /// The memref arguments' views, in argument order.
  llvm::SmallVector<View> getViews() const;
  /// The bytes the memref arguments' views hold, each element counted
  /// once: what a kernel that reads or writes each element once moves (a
  /// benchmark's measure of bandwidth).
  uint64_t getViewBytes() const;

private:
  std::vector<uint64_t> slots;
  std::vector<void *> pointers;
  std::vector<uint8_t> sizes;
  /// Per memref argument: the slot of its first size, its rank and element
  /// bytes (the sizes themselves are in `slots`).
  struct MemRefSlots {
    uint32_t firstSize;
    uint8_t rank, elementBytes;
  };
  llvm::SmallVector<MemRefSlots, 8> memrefs;
};

/// What executing a program needs from a device. Methods are called on the
/// thread that runs execute().
class DeviceBackend {
public:
  virtual ~DeviceBackend();

  /// Device memory of exactly `bytes` usable bytes (0 is allowed).
  virtual llvm::Expected<std::shared_ptr<Allocation>>
  allocate(size_t bytes) = 0;
  /// Queues kernel `kernel` (an index into the program's kernel table).
  /// `arguments` stays valid only during the call.
  virtual llvm::Error launch(unsigned kernel, const LaunchShape &shape,
                             const KernelArguments &arguments) = 0;
  /// Queues a device-to-device copy of `bytes` (ranges already checked).
  virtual llvm::Error copy(const Allocation &target, size_t targetOffset,
                           const Allocation &source, size_t sourceOffset,
                           size_t bytes) = 0;
  /// Host copies, ordered after the work queued so far.
  virtual llvm::Error copyFromHost(const Allocation &target, size_t offset,
                                   const void *source, size_t bytes) = 0;
  virtual llvm::Error copyToHost(void *target, const Allocation &source,
                                 size_t offset, size_t bytes) = 0;
  /// Waits for all queued work.
  virtual llvm::Error synchronize() = 0;
};

/// Runs `program` with `arguments` (one per program argument, in order).
/// Each argument is checked against its declared type first (checkValue).
/// Returns the func.return values; memrefs among them keep their
/// allocations alive. Work may still be queued: synchronize the backend
/// before reading results on the host.
llvm::Expected<std::vector<Value>> execute(const HostProgram &program,
                                           DeviceBackend &backend,
                                           llvm::ArrayRef<Value> arguments);

/// As above, with `resultStorage[i]` (where not null) the memory for result
/// i: where that result is the value of a top-level memref.alloc (not a
/// view, not an argument, returned once) whose bytes are exactly the
/// storage's, the allocation uses the storage instead of the backend, so
/// the result lands in the caller's buffer without a copy (a decoding
/// state's next buffers). The storage must not alias any argument. Callers
/// compare the results' allocations to see which landed.
llvm::Expected<std::vector<Value>>
execute(const HostProgram &program, DeviceBackend &backend,
        llvm::ArrayRef<Value> arguments,
        llvm::ArrayRef<std::shared_ptr<Allocation>> resultStorage);

/// Orders `named` values as `program`'s arguments. Every argument must be
/// given and every name must be an argument; errors name them.
llvm::Expected<std::vector<Value>>
bindArguments(const HostProgram &program, const llvm::StringMap<Value> &named);

/// A memref of `sizes` with the identity layout over a fresh allocation from
/// `backend` (uninitialised). For callers that make arguments.
llvm::Expected<MemRefValue> allocateMemRef(DeviceBackend &backend,
                                           ElementKind element,
                                           llvm::ArrayRef<int64_t> sizes);

//===----------------------------------------------------------------------===//
// The CUDA backend
//===----------------------------------------------------------------------===//

/// A DeviceBackend on one CUDA context and one stream. Kernels come from
/// `kernels`; each distinct module is loaded once from the image
/// `loadImage` returns for it. Allocations come from a caching pool
/// (size-bucketed free lists) so repeated runs do not call cuMemAlloc; the
/// pool frees its memory when the backend and the last allocation are gone.
/// The Context outlives the backend and every allocation it made.
class CudaBackend : public DeviceBackend {
public:
  static llvm::Expected<std::unique_ptr<CudaBackend>>
  create(const Context &context, llvm::ArrayRef<KernelRef> kernels,
         llvm::function_ref<llvm::Expected<llvm::StringRef>(const KernelRef &)>
             loadImage);
  ~CudaBackend() override;

  llvm::Expected<std::shared_ptr<Allocation>> allocate(size_t bytes) override;
  llvm::Error launch(unsigned kernel, const LaunchShape &shape,
                     const KernelArguments &arguments) override;
  llvm::Error copy(const Allocation &target, size_t targetOffset,
                   const Allocation &source, size_t sourceOffset,
                   size_t bytes) override;
  llvm::Error copyFromHost(const Allocation &target, size_t offset,
                           const void *source, size_t bytes) override;
  llvm::Error copyToHost(void *target, const Allocation &source, size_t offset,
                         size_t bytes) override;
  llvm::Error synchronize() override;

  /// The stream every launch and copy goes to (for timing with events).
  const Stream &getStream() const;

  /// Per-kernel timing: while on, every launch is bracketed by two events.
  struct KernelTime {
    unsigned kernel;
    unsigned launches = 0;
    double milliseconds = 0;
    /// Summed over the launches: KernelArguments::getViewBytes.
    uint64_t viewBytes = 0;
    /// Its launches by memref arguments (KernelArguments::getViews): each
    /// distinct set once, with how many launches had it.
    struct Launches {
      llvm::SmallVector<KernelArguments::View> views;
      unsigned count = 0;
    };
    std::vector<Launches> byViews;
  };
  llvm::Error setProfiling(bool on);
  /// Waits for the stream and returns the launches timed since the last
  /// call, summed per kernel (in order of first launch).
  llvm::Expected<std::vector<KernelTime>> takeProfile();

  /// Work captured once as a CUDA graph and replayed with one launch. The
  /// buffers allocated while recording belong to the recording: each
  /// replay writes them again, and no other work gets them until the
  /// recording and every value holding one are gone. The backend must
  /// outlive its recordings.
  class Recording {
  public:
    ~Recording();
    /// Queues the recorded work again on the backend's stream.
    llvm::Error replay() const;

  private:
    friend class CudaBackend;
    struct State;
    explicit Recording(std::unique_ptr<State> state);
    std::unique_ptr<State> state;
  };
  /// Records what `enqueue` queues on the stream (launches, device copies,
  /// allocations) into a graph, without running it. Not while profiling.
  llvm::Expected<std::unique_ptr<Recording>>
  record(llvm::function_ref<llvm::Error()> enqueue);

  /// Bytes held by the pool's free lists (for tests and statistics).
  size_t getCachedBytes() const;
  /// Frees the pool's free lists.
  void releaseCached();

  struct Impl;

private:
  explicit CudaBackend(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

} // namespace xlstm::runtime

#endif // XLSTM_RUNTIME_HOSTPROGRAM_H
