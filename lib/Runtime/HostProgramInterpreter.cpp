//===- HostProgramInterpreter.cpp - Running host programs -----------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Kernel argument packing (MLIR's memref descriptors) and the interpreter:
// integers, views with bounds checks, scf.for/scf.if, allocations and
// launches against a DeviceBackend; all run-time size, offset and byte
// arithmetic overflow-checked.
//
//===----------------------------------------------------------------------===//

#include "HostProgramSupport.h"
#include "xlstm/Runtime/CudaObjects.h"
#include "xlstm/Runtime/HostProgram.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

using namespace llvm;
using namespace xlstm::runtime;
using namespace xlstm::runtime::detail;

//===----------------------------------------------------------------------===//
// Kernel arguments
//===----------------------------------------------------------------------===//

SmallVector<KernelArguments::View> KernelArguments::getViews() const {
  SmallVector<View> views;
  for (const MemRefSlots &m : memrefs) {
    View view;
    view.elementBytes = m.elementBytes;
    for (unsigned d = 0; d < m.rank; ++d)
      view.sizes.push_back(int64_t(slots[m.firstSize + d]));
    views.push_back(std::move(view));
  }
  return views;
}

uint64_t KernelArguments::getViewBytes() const {
  uint64_t total = 0;
  for (const MemRefSlots &m : memrefs) {
    uint64_t bytes = m.elementBytes;
    for (unsigned d = 0; d < m.rank; ++d)
      bytes *= slots[m.firstSize + d];
    total += bytes;
  }
  return total;
}

Expected<KernelArguments> KernelArguments::pack(ArrayRef<Value> values,
                                                ArrayRef<Type> types) {
  if (values.size() != types.size())
    return makeError(formatv("packing {0} kernel arguments with {1} types",
                             values.size(), types.size()));
  KernelArguments packed;
  // Count first: `pointers` point into `slots`, which must not reallocate.
  size_t count = 0;
  for (const Type &type : types)
    count += type.isMemRef() ? 3 + 2 * type.memrefType.getRank() : 1;
  packed.slots.assign(count, 0);
  packed.sizes.reserve(count);
  auto push = [&](const void *data, size_t bytes) {
    size_t slot = packed.sizes.size();
    std::memcpy(&packed.slots[slot], data, bytes);
    packed.sizes.push_back(uint8_t(bytes));
  };
  for (auto [i, value, type] : enumerate(values, types)) {
    auto wrongKind = [&, i = i, &type = type] {
      return makeError(formatv("kernel argument {0} does not hold a value of "
                               "its type {1}",
                               i, toString(type)));
    };
    if (type.isMemRef()) {
      if (value.getKind() != Value::Kind::MemRef ||
          value.getMemRef().getRank() != type.memrefType.getRank() ||
          !value.getMemRef().allocation)
        return wrongKind();
      const MemRefValue &memref = value.getMemRef();
      packed.memrefs.push_back(
          {uint32_t(packed.sizes.size() + 3), uint8_t(memref.getRank()),
           uint8_t(getElementBytes(memref.element))});
      uint64_t base = memref.allocation->getAddress();
      // allocated and aligned pointers: the allocation's base; the offset
      // field carries the view's offset.
      push(&base, 8);
      push(&base, 8);
      push(&memref.offset, 8);
      for (int64_t size : memref.sizes)
        push(&size, 8);
      for (int64_t stride : memref.strides)
        push(&stride, 8);
      continue;
    }
    switch (type.scalar) {
    case ScalarKind::Index:
    case ScalarKind::I64: {
      if (value.getKind() != Value::Kind::Integer)
        return wrongKind();
      int64_t v = value.getInteger();
      push(&v, 8);
      break;
    }
    case ScalarKind::I32: {
      if (value.getKind() != Value::Kind::Integer)
        return wrongKind();
      int32_t v = int32_t(value.getInteger());
      push(&v, 4);
      break;
    }
    case ScalarKind::F32: {
      if (value.getKind() != Value::Kind::Float)
        return wrongKind();
      float v = float(value.getFloat());
      push(&v, 4);
      break;
    }
    case ScalarKind::F64: {
      if (value.getKind() != Value::Kind::Float)
        return wrongKind();
      double v = value.getFloat();
      push(&v, 8);
      break;
    }
    case ScalarKind::I1:
      return makeError(formatv("kernel argument {0} is an i1, which is not a "
                               "kernel argument type",
                               i));
    }
  }
  packed.pointers.reserve(count);
  for (uint64_t &slot : packed.slots)
    packed.pointers.push_back(&slot);
  return std::move(packed);
}

//===----------------------------------------------------------------------===//
// Execution
//===----------------------------------------------------------------------===//

DeviceBackend::~DeviceBackend() = default;

namespace {

/// Runs one program once. `values` holds every value by our id.
/// Calls `fn` on every value id `op` reads, in its regions too.
void forEachUse(const Op &op, function_ref<void(uint32_t)> fn) {
  for (uint32_t id : op.operands)
    fn(id);
  if (op.kind == OpKind::LaunchFunc) {
    for (uint32_t id : op.grid)
      fn(id);
    for (uint32_t id : op.block)
      fn(id);
    if (op.sharedMemory)
      fn(*op.sharedMemory);
    for (uint32_t id : op.args)
      fn(id);
  }
  for (const Region &region : op.regions) {
    for (const Op &inner : region.body)
      forEachUse(inner, fn);
    for (uint32_t id : region.yields)
      fn(id);
  }
}

/// For each top-level op, the values it defines or reads for the last
/// time: the interpreter drops them after the op, so that memory returns to
/// the pool as soon as the program is done with it (bufferization inserts
/// no deallocations; without this every intermediate of a forward would
/// stay allocated to its end). Arguments belong to the caller and the last
/// op (func.return) hands its operands out; neither is released.
std::vector<SmallVector<uint32_t, 4>>
lastUses(ArrayRef<Op> body, size_t numValues, size_t numArguments) {
  constexpr size_t kNever = std::numeric_limits<size_t>::max();
  std::vector<size_t> last(numValues, kNever);
  for (auto [i, op] : enumerate(body)) {
    for (uint32_t id : op.results)
      last[id] = i; // a value nobody reads goes right away
    forEachUse(op, [&, i = i](uint32_t id) { last[id] = i; });
  }
  std::vector<SmallVector<uint32_t, 4>> release(body.size());
  for (size_t id = numArguments; id < numValues; ++id)
    if (last[id] != kNever && last[id] + 1 < body.size())
      release[last[id]].push_back(id);
  return release;
}

class Interpreter {
public:
  Interpreter(const HostProgram &program, DeviceBackend &backend)
      : program(program), backend(backend), values(program.getNumValues()) {}

  Expected<std::vector<Value>> run(ArrayRef<Value> arguments);

  /// Result i's storage (see execute); call before run.
  void setResultStorage(ArrayRef<std::shared_ptr<Allocation>> storage);

private:
  Error runOps(ArrayRef<Op> ops);
  Error runOp(const Op &op);
  Error runRegion(const Region &region);
  Error runInteger(const Op &op);
  Error runView(const Op &op);
  Error runLaunch(const Op &op);

  Error error(const Op &op, const Twine &msg) const {
    return makeError("host program: " + op.location + ": " + msg);
  }
  int64_t integer(uint32_t id) const { return values[id].getInteger(); }
  const MemRefValue &memref(uint32_t id) const {
    return values[id].getMemRef();
  }
  /// Fails for a value memref.dealloc dropped.
  Error checkLive(const Op &op, ArrayRef<uint32_t> ids, StringRef what) const {
    for (auto [i, id] : enumerate(ids))
      if (values[id].isNone())
        return error(op,
                     formatv("{0} {1} is used after memref.dealloc", what, i));
    return Error::success();
  }
  /// Stores a view `op` made, after checking it has the declared type.
  Error setView(const Op &op, MemRefValue view) {
    if (!matchesType(view, op.resultTypes[0].memrefType))
      return error(op, "made " + describe(view) +
                           ", which does not have the declared type " +
                           toString(op.resultTypes[0]));
    values[op.results[0]] = Value::getMemRef(std::move(view));
    return Error::success();
  }

  const HostProgram &program;
  DeviceBackend &backend;
  /// Caller-given memory for the values of some top-level allocations.
  DenseMap<uint32_t, std::shared_ptr<Allocation>> storageOf;
  std::vector<Value> values;
  /// Ops this execution may still run (HostProgram::kMaxExecutedOps).
  uint64_t opsLeft = HostProgram::kMaxExecutedOps;
};

Expected<std::vector<Value>> Interpreter::run(ArrayRef<Value> arguments) {
  ArrayRef<ProgramArgument> declared = program.getArguments();
  if (arguments.size() != declared.size())
    return makeError(formatv("host program: given {0} arguments; it takes {1}",
                             arguments.size(), declared.size()));
  for (auto [i, argument] : enumerate(declared)) {
    Expected<Value> checked =
        checkValue(arguments[i], argument.type,
                   "host program: argument '" + argument.name + "'");
    if (!checked)
      return checked.takeError();
    values[i] = std::move(*checked);
  }
  ArrayRef<Op> body = program.getBody();
  std::vector<SmallVector<uint32_t, 4>> release =
      lastUses(body, values.size(), declared.size());
  for (auto [i, op] : enumerate(body)) {
    if (Error err = runOp(op))
      return std::move(err);
    for (uint32_t id : release[i])
      values[id] = Value();
  }
  const Op &ret = body.back();
  std::vector<Value> results;
  results.reserve(ret.operands.size());
  for (uint32_t id : ret.operands)
    results.push_back(values[id]);
  return results;
}

void Interpreter::setResultStorage(
    ArrayRef<std::shared_ptr<Allocation>> storage) {
  ArrayRef<Op> body = program.getBody();
  if (body.empty())
    return;
  ArrayRef<uint32_t> returned = body.back().operands;
  for (auto [i, id] : enumerate(returned)) {
    if (i >= storage.size() || !storage[i] || llvm::count(returned, id) != 1)
      continue;
    for (const Op &op : body)
      if (op.kind == OpKind::Alloc && op.results[0] == id)
        storageOf[id] = storage[i];
  }
}

Error Interpreter::runOps(ArrayRef<Op> ops) {
  for (const Op &op : ops) {
    if (opsLeft == 0)
      return error(op, formatv("the program runs more than {0} ops; a loop "
                               "bound is wrong (a malformed bundle?)",
                               HostProgram::kMaxExecutedOps));
    --opsLeft;
    if (Error err = runOp(op))
      return err;
  }
  return Error::success();
}

Error Interpreter::runRegion(const Region &region) {
  if (Error err = runOps(region.body))
    return err;
  for (uint32_t id : region.yields)
    if (values[id].isNone())
      return makeError("host program: a region yields a value after its "
                       "memref.dealloc");
  return Error::success();
}

Error Interpreter::runOp(const Op &op) {
  if (Error err = checkLive(op, op.operands, "operand"))
    return err;
  switch (op.kind) {
  case OpKind::Constant:
    values[op.results[0]] = op.constant;
    return Error::success();

  case OpKind::Select:
    values[op.results[0]] =
        values[op.operands[integer(op.operands[0]) ? 1 : 2]];
    return Error::success();

  case OpKind::Dim: {
    const MemRefValue &source = memref(op.operands[0]);
    int64_t dim = integer(op.operands[1]);
    if (dim < 0 || uint64_t(dim) >= source.getRank())
      return error(op, formatv("dimension {0} is out of range for a memref of "
                               "rank {1}",
                               dim, source.getRank()));
    if (Error err = source.checkInBounds("the memref"))
      return error(op, toString(std::move(err)));
    values[op.results[0]] = Value::getInteger(source.sizes[dim]);
    return Error::success();
  }

  case OpKind::Alloc: {
    const MemRefType &type = op.resultTypes[0].memrefType;
    MemRefValue result;
    result.element = type.element;
    size_t next = 0;
    int64_t elements = 1;
    for (auto [i, declared] : enumerate(type.shape)) {
      int64_t size = declared;
      if (size == kDynamic)
        size = integer(op.operands[next++]);
      if (size < 0)
        return error(op, formatv("size {0} is negative ({1})", i, size));
      if (mulOverflow(elements, size, elements))
        return error(op, "the number of elements overflows");
      result.sizes.push_back(size);
    }
    std::optional<SmallVector<int64_t, 4>> strides =
        identityStrides(result.sizes);
    int64_t bytes = 0;
    if (!strides ||
        mulOverflow(elements, int64_t(getElementBytes(type.element)), bytes))
      return error(op, "allocating " + formatList(result.sizes) + " " +
                           getName(type.element) + ": the size overflows");
    result.strides = std::move(*strides);
    if (auto given = storageOf.find(op.results[0]);
        given != storageOf.end() && given->second->getBytes() == size_t(bytes)) {
      result.allocation = given->second;
      return setView(op, std::move(result));
    }
    Expected<std::shared_ptr<Allocation>> allocation =
        backend.allocate(size_t(bytes));
    if (!allocation)
      return error(op, toString(allocation.takeError()));
    result.allocation = std::move(*allocation);
    return setView(op, std::move(result));
  }

  case OpKind::Dealloc:
    values[op.operands[0]] = Value();
    return Error::success();

  case OpKind::SubView:
  case OpKind::ExpandShape:
  case OpKind::CollapseShape:
  case OpKind::Cast:
  case OpKind::ReinterpretCast:
    return runView(op);

  case OpKind::Copy: {
    const MemRefValue &source = memref(op.operands[0]);
    const MemRefValue &target = memref(op.operands[1]);
    if (source.sizes != target.sizes)
      return error(op, "copies " + describe(source) + " to " +
                           describe(target) + ": the sizes differ");
    if (!source.isContiguous() || !target.isContiguous())
      return error(op, "copies " + describe(source) + " to " +
                           describe(target) +
                           ": only contiguous memrefs can be copied");
    if (Error err = source.checkInBounds("the source"))
      return error(op, toString(std::move(err)));
    if (Error err = target.checkInBounds("the target"))
      return error(op, toString(std::move(err)));
    // In bounds, so these products fit.
    size_t elementBytes = getElementBytes(source.element);
    size_t bytes = size_t(*source.getNumElements()) * elementBytes;
    if (bytes == 0)
      return Error::success();
    if (Error err = backend.copy(
            *target.allocation, size_t(target.offset) * elementBytes,
            *source.allocation, size_t(source.offset) * elementBytes, bytes))
      return error(op, toString(std::move(err)));
    return Error::success();
  }

  case OpKind::LaunchFunc:
    return runLaunch(op);

  case OpKind::For: {
    const Region &body = op.regions[0];
    // Signed bounds (MLIR's default); the induction variable wraps to the
    // bounds' width.
    unsigned width = getIntegerWidth(op.operandType);
    int64_t lower = asSigned(integer(op.operands[0]), width);
    int64_t upper = asSigned(integer(op.operands[1]), width);
    int64_t step = asSigned(integer(op.operands[2]), width);
    if (step <= 0)
      return error(op, formatv("the step is {0}; it must be positive", step));
    uint64_t trips =
        upper <= lower
            ? 0
            : (uint64_t(upper) - uint64_t(lower) - 1) / uint64_t(step) + 1;
    // Each trip runs at least the body's ops: a loop that cannot finish
    // within the budget is rejected before it starts.
    if (trips > 0 && trips > opsLeft / std::max<size_t>(body.body.size(), 1))
      return error(op, formatv("a loop of {0} trips would run more than {1} "
                               "ops; a loop bound is wrong (a malformed "
                               "bundle?)",
                               trips, HostProgram::kMaxExecutedOps));
    size_t iterCount = op.operands.size() - 3;
    for (size_t i = 0; i < iterCount; ++i)
      values[body.arguments[1 + i]] = values[op.operands[3 + i]];
    for (uint64_t trip = 0; trip < trips; ++trip) {
      values[body.arguments[0]] = Value::getInteger(
          wrapTo(uint64_t(lower) + trip * uint64_t(step), width));
      if (Error err = runRegion(body))
        return err;
      for (size_t i = 0; i < iterCount; ++i)
        values[body.arguments[1 + i]] = values[body.yields[i]];
    }
    for (size_t i = 0; i < iterCount; ++i)
      values[op.results[i]] = values[body.arguments[1 + i]];
    return Error::success();
  }

  case OpKind::If: {
    const Region &region = op.regions[integer(op.operands[0]) ? 0 : 1];
    if (Error err = runRegion(region))
      return err;
    for (size_t i = 0; i < op.results.size(); ++i)
      values[op.results[i]] = values[region.yields[i]];
    return Error::success();
  }

  case OpKind::Return:
    for (uint32_t id : op.operands)
      if (values[id].getKind() == Value::Kind::MemRef)
        if (Error err = memref(id).checkInBounds("a result"))
          return error(op, toString(std::move(err)));
    return Error::success();

  default:
    return runInteger(op);
  }
}

Error Interpreter::runInteger(const Op &op) {
  unsigned width = getIntegerWidth(op.resultTypes[0].scalar);
  int64_t a = integer(op.operands[0]);
  auto set = [&](uint64_t bits) {
    values[op.results[0]] = Value::getInteger(wrapTo(bits, width));
    return Error::success();
  };

  if (op.kind >= OpKind::IndexCast && op.kind <= OpKind::TruncI) {
    unsigned from = getIntegerWidth(op.operandType);
    bool isSigned = op.kind == OpKind::IndexCast || op.kind == OpKind::ExtSI;
    // Widening extends by the cast's signedness; narrowing truncates.
    return set(isSigned ? uint64_t(asSigned(a, from)) : asUnsigned(a, from));
  }

  int64_t b = integer(op.operands[1]);
  if (op.kind == OpKind::CmpI) {
    unsigned from = getIntegerWidth(op.operandType);
    int64_t sa = asSigned(a, from), sb = asSigned(b, from);
    uint64_t ua = asUnsigned(a, from), ub = asUnsigned(b, from);
    bool result = false;
    switch (op.predicate) {
    case CmpPredicate::EQ:
      result = ua == ub;
      break;
    case CmpPredicate::NE:
      result = ua != ub;
      break;
    case CmpPredicate::SLT:
      result = sa < sb;
      break;
    case CmpPredicate::SLE:
      result = sa <= sb;
      break;
    case CmpPredicate::SGT:
      result = sa > sb;
      break;
    case CmpPredicate::SGE:
      result = sa >= sb;
      break;
    case CmpPredicate::ULT:
      result = ua < ub;
      break;
    case CmpPredicate::ULE:
      result = ua <= ub;
      break;
    case CmpPredicate::UGT:
      result = ua > ub;
      break;
    case CmpPredicate::UGE:
      result = ua >= ub;
      break;
    }
    values[op.results[0]] = Value::getInteger(result);
    return Error::success();
  }

  int64_t sa = asSigned(a, width), sb = asSigned(b, width);
  uint64_t ua = asUnsigned(a, width), ub = asUnsigned(b, width);
  switch (op.kind) {
  case OpKind::DivSI:
  case OpKind::DivUI:
  case OpKind::RemSI:
  case OpKind::RemUI:
  case OpKind::CeilDivSI:
  case OpKind::CeilDivUI:
  case OpKind::FloorDivSI:
    if (ub == 0)
      return error(op, formatv("division by zero ({0} / 0)", sa));
    break;
  default:
    break;
  }
  switch (op.kind) {
  case OpKind::AddI:
    return set(ua + ub);
  case OpKind::SubI:
    return set(ua - ub);
  case OpKind::MulI:
    return set(ua * ub);
  case OpKind::DivSI:
    return set(uint64_t(divideSigned(sa, sb)));
  case OpKind::DivUI:
    return set(ua / ub);
  case OpKind::RemSI:
    return set(uint64_t(remainderSigned(sa, sb)));
  case OpKind::RemUI:
    return set(ua % ub);
  case OpKind::CeilDivSI:
  case OpKind::FloorDivSI: {
    // Round the truncated quotient up (ceil) or down (floor) when the
    // remainder is non-zero and the exact quotient is positive (ceil) or
    // negative (floor).
    uint64_t quotient = uint64_t(divideSigned(sa, sb));
    int64_t remainder = remainderSigned(sa, sb);
    bool positive = (remainder < 0) == (sb < 0);
    if (remainder != 0 && op.kind == OpKind::CeilDivSI && positive)
      ++quotient;
    if (remainder != 0 && op.kind == OpKind::FloorDivSI && !positive)
      --quotient;
    return set(quotient);
  }
  case OpKind::CeilDivUI:
    return set(ua / ub + (ua % ub != 0));
  case OpKind::MinSI:
    return set(uint64_t(std::min(sa, sb)));
  case OpKind::MaxSI:
    return set(uint64_t(std::max(sa, sb)));
  case OpKind::MinUI:
    return set(std::min(ua, ub));
  case OpKind::MaxUI:
    return set(std::max(ua, ub));
  case OpKind::AndI:
    return set(ua & ub);
  case OpKind::OrI:
    return set(ua | ub);
  case OpKind::XOrI:
    return set(ua ^ ub);
  default:
    return error(op, "is not an integer op");
  }
}

Error Interpreter::runView(const Op &op) {
  const MemRefValue &source = memref(op.operands[0]);
  MemRefValue result;
  result.allocation = source.allocation;
  result.element = source.element;
  size_t next = 1; // the next dynamic operand
  auto resolve = [&](int64_t value) {
    return value == kDynamic ? integer(op.operands[next++]) : value;
  };

  switch (op.kind) {
  case OpKind::SubView: {
    SmallVector<int64_t, 4> offsets, sizes, strides;
    for (int64_t v : op.staticOffsets)
      offsets.push_back(resolve(v));
    for (int64_t v : op.staticSizes)
      sizes.push_back(resolve(v));
    for (int64_t v : op.staticStrides)
      strides.push_back(resolve(v));
    result.offset = source.offset;
    const unsigned *dropped = op.droppedDims.begin();
    for (size_t i = 0; i < source.getRank(); ++i) {
      int64_t offset = offsets[i], size = sizes[i], step = strides[i];
      // MLIR leaves a subview outside its source undefined; we refuse it.
      int64_t last = 0, delta = 0;
      bool overflow = false;
      if (size > 0)
        overflow = mulOverflow(size - 1, step, last) ||
                   addOverflow(offset, last, last);
      if (offset < 0 || size < 0 || overflow || offset > source.sizes[i] ||
          (size > 0 && (last < 0 || last >= source.sizes[i])))
        return error(op, formatv("dimension {0}: offset {1}, size {2}, stride "
                                 "{3} do not fit in the source's size {4}",
                                 i, offset, size, step, source.sizes[i]));
      if (mulOverflow(offset, source.strides[i], delta) ||
          addOverflow(result.offset, delta, result.offset))
        return error(op, "the offset overflows");
      if (dropped != op.droppedDims.end() && *dropped == i) {
        ++dropped;
        if (size != 1)
          return error(
              op, formatv("drops dimension {0}, whose size is {1}", i, size));
        continue;
      }
      int64_t stride = 0;
      if (mulOverflow(source.strides[i], step, stride))
        return error(op, "a stride overflows");
      result.sizes.push_back(size);
      result.strides.push_back(stride);
    }
    return setView(op, std::move(result));
  }

  case OpKind::ExpandShape: {
    result.offset = source.offset;
    for (int64_t v : op.staticSizes)
      result.sizes.push_back(resolve(v));
    result.strides.assign(result.sizes.size(), 1);
    for (auto [g, group] : enumerate(op.reassociation)) {
      // Innermost dimension first: it keeps the source stride, and each
      // outer one steps over the inner ones.
      int64_t stride = source.strides[g], product = 1;
      for (size_t k = group.size(); k-- > 0;) {
        unsigned d = group[k];
        result.strides[d] = stride;
        if (mulOverflow(product, result.sizes[d], product) ||
            (k > 0 && mulOverflow(stride, result.sizes[d], stride)))
          return error(op, "a size or stride overflows");
      }
      if (product != source.sizes[g])
        return error(op, formatv("group {0} has {1} elements; the source "
                                 "dimension has {2}",
                                 g, product, source.sizes[g]));
    }
    if (op.reassociation.empty() &&
        any_of(result.sizes, [](int64_t size) { return size != 1; }))
      return error(op, "expanding a rank-0 memref needs unit sizes");
    return setView(op, std::move(result));
  }

  case OpKind::CollapseShape: {
    const MemRefType &type = op.resultTypes[0].memrefType;
    result.offset = source.offset;
    for (auto [g, group] : enumerate(op.reassociation)) {
      int64_t size = 1, stride = 0;
      bool found = false;
      bool empty = any_of(group, [&](unsigned d) { return !source.sizes[d]; });
      // Contiguous: each non-unit dimension steps over the next inner one.
      int64_t expected = 0;
      for (size_t k = group.size(); k-- > 0;) {
        unsigned d = group[k];
        if (mulOverflow(size, source.sizes[d], size))
          return error(op, "a size overflows");
        if (source.sizes[d] == 1)
          continue;
        if (!found) {
          stride = source.strides[d];
          found = true;
        } else if (!empty && source.strides[d] != expected) {
          return error(op, formatv("group {0} of {1} is not contiguous", g,
                                   describe(source)));
        }
        if (mulOverflow(source.strides[d], source.sizes[d], expected))
          expected = kDynamic;
      }
      // A group of unit dimensions: any stride reaches the same element;
      // prefer the declared one, as MLIR's lowering does.
      if (!found)
        stride = type.strides[g] != kDynamic ? type.strides[g]
                                             : source.strides[group.back()];
      result.sizes.push_back(size);
      result.strides.push_back(stride);
    }
    if (op.reassociation.empty() &&
        any_of(source.sizes, [](int64_t size) { return size != 1; }))
      return error(op, "collapsing to rank 0 needs unit sizes");
    return setView(op, std::move(result));
  }

  case OpKind::Cast:
    return setView(op, source);

  case OpKind::ReinterpretCast: {
    result.offset = resolve(op.staticOffsets[0]);
    for (int64_t v : op.staticSizes)
      result.sizes.push_back(resolve(v));
    for (int64_t v : op.staticStrides)
      result.strides.push_back(resolve(v));
    // The one view op that can reach outside its source: check it here.
    if (Error err = result.checkInBounds("the view"))
      return error(op, toString(std::move(err)));
    return setView(op, std::move(result));
  }

  default:
    return error(op, "is not a view op");
  }
}

Error Interpreter::runLaunch(const Op &op) {
  if (Error err = checkLive(op, op.args, "kernel argument"))
    return err;
  LaunchShape shape;
  for (size_t i = 0; i < 3; ++i) {
    for (auto [what, id, target] : {std::tuple<StringRef, uint32_t, unsigned *>{
                                        "grid", op.grid[i], &shape.grid[i]},
                                    {"block", op.block[i], &shape.block[i]}}) {
      int64_t v = integer(id);
      // An empty grid is an empty loop (no rows): nothing to launch.
      int64_t low = what == "grid" ? 0 : 1;
      if (v < low || v > int64_t(std::numeric_limits<unsigned>::max()))
        return error(op, formatv("{0} size {1} is {2}; expected {3}..{4}", what,
                                 "xyz"[i], v, low,
                                 std::numeric_limits<unsigned>::max()));
      *target = unsigned(v);
    }
  }
  if (shape.grid[0] == 0 || shape.grid[1] == 0 || shape.grid[2] == 0)
    return Error::success();
  if (op.sharedMemory) {
    int64_t v = integer(*op.sharedMemory);
    if (v < 0 || v > int64_t(std::numeric_limits<unsigned>::max()))
      return error(op, formatv("shared memory size is {0}", v));
    shape.sharedMemoryBytes = unsigned(v);
  }
  SmallVector<Value, 8> args;
  SmallVector<Type, 8> types;
  for (auto [i, id] : enumerate(op.args)) {
    const Value &value = values[id];
    if (value.getKind() == Value::Kind::MemRef)
      if (Error err =
              value.getMemRef().checkInBounds("kernel argument " + Twine(i)))
        return error(op, toString(std::move(err)));
    args.push_back(value);
    types.push_back(op.argTypes[i]);
  }
  Expected<KernelArguments> packed = KernelArguments::pack(args, types);
  if (!packed)
    return error(op, toString(packed.takeError()));
  if (Error err = backend.launch(op.kernel, shape, *packed))
    return error(op, toString(std::move(err)));
  return Error::success();
}

} // namespace

Expected<std::vector<Value>>
xlstm::runtime::execute(const HostProgram &program, DeviceBackend &backend,
                        ArrayRef<Value> arguments) {
  return Interpreter(program, backend).run(arguments);
}

Expected<std::vector<Value>>
xlstm::runtime::execute(const HostProgram &program, DeviceBackend &backend,
                        ArrayRef<Value> arguments,
                        ArrayRef<std::shared_ptr<Allocation>> resultStorage) {
  Interpreter interpreter(program, backend);
  interpreter.setResultStorage(resultStorage);
  return interpreter.run(arguments);
}

Expected<std::vector<Value>>
xlstm::runtime::bindArguments(const HostProgram &program,
                              const StringMap<Value> &named) {
  for (const auto &entry : named)
    if (!program.findArgument(entry.getKey()))
      return makeError("host program: there is no argument '" + entry.getKey() +
                       "'");
  std::vector<Value> result;
  for (const ProgramArgument &argument : program.getArguments()) {
    auto it = named.find(argument.name);
    if (it == named.end())
      return makeError("host program: argument '" + argument.name + "' (" +
                       argument.role + ") is not given");
    result.push_back(it->second);
  }
  return result;
}

Expected<MemRefValue> xlstm::runtime::allocateMemRef(DeviceBackend &backend,
                                                     ElementKind element,
                                                     ArrayRef<int64_t> sizes) {
  MemRefValue result;
  result.element = element;
  result.sizes.assign(sizes.begin(), sizes.end());
  std::optional<int64_t> elements = result.getNumElements();
  std::optional<SmallVector<int64_t, 4>> strides = identityStrides(sizes);
  int64_t bytes = 0;
  if (any_of(sizes, [](int64_t size) { return size < 0; }) || !elements ||
      !strides ||
      mulOverflow(*elements, int64_t(getElementBytes(element)), bytes))
    return makeError("cannot allocate a memref of sizes " + formatList(sizes));
  result.strides = std::move(*strides);
  Expected<std::shared_ptr<Allocation>> allocation =
      backend.allocate(size_t(bytes));
  if (!allocation)
    return allocation.takeError();
  result.allocation = std::move(*allocation);
  return std::move(result);
}

