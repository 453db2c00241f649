//===- Evaluator.cpp - Float64 evaluator of xlstm IR ----------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Reference/Evaluator.h"
#include "xlstm/Dialect/XLSTM/IR/XLSTM.h"
#include "xlstm/Reference/Kernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"
#include <cmath>

using namespace mlir;
using namespace xlstm;
using namespace xlstm::reference;

namespace {

//===----------------------------------------------------------------------===//
// Scalar bodies of linalg ops, compiled to a tape once per op
//===----------------------------------------------------------------------===//

enum class ScalarOpKind {
  Add,
  Sub,
  Mul,
  Div,
  Neg,
  Maximum, // NaN if either operand is NaN (arith.maximumf)
  Minimum,
  MaxNum, // the other operand if one is NaN (arith.maxnumf)
  MinNum,
  Exp,
  Log,
  Log1p,
  Expm1,
  Tanh,
  Erf,
  Sqrt,
  Rsqrt,
  Abs,
  Pow,
  Copy,
  CmpGT,
  CmpGE,
  CmpLT,
  CmpLE,
  CmpEQ,
  CmpNE,
  Select,
  // Integer and index arithmetic (values are exact integers in doubles).
  Index, // linalg.index: the current value of loop `imm`
  AddI,
  SubI,
  MulI,
  DivSI,
  RemSI,
  Extract // tensor.extract from a tensor defined outside the body
};

struct ScalarInstr {
  ScalarOpKind kind;
  int result;
  int a = -1, b = -1, c = -1;
  bool unordered = false;         ///< cmpf: also true when an operand is NaN
  int64_t imm = 0;                ///< Index: the loop dimension
  const Tensor *tensor = nullptr; ///< Extract: the source
  SmallVector<int, 4> indices;    ///< Extract: slots of the indices
};

/// A linalg body as straight-line code over numbered slots: block arguments
/// first, then constants, then op results.
struct ScalarTape {
  std::vector<ScalarInstr> instrs;
  std::vector<double>
      initialSlots; // block args (filled per iteration) + constants
  SmallVector<int> yields;
  int numArgs = 0;
};

/// `outer` gives the value of a scalar defined outside the body (constants
/// that canonicalization hoisted), or nullptr.
FailureOr<ScalarTape> compileBody(Operation *owner, Block &body,
                                  function_ref<const Tensor *(Value)> outer) {
  ScalarTape tape;
  llvm::DenseMap<Value, int> slot;
  for (BlockArgument arg : body.getArguments())
    slot[arg] = tape.numArgs++;
  tape.initialSlots.assign(tape.numArgs, 0.0);
  auto newSlot = [&](Value v) {
    slot[v] = tape.initialSlots.size();
    tape.initialSlots.push_back(0.0);
    return slot[v];
  };
  // The slot of `v`; a scalar captured from outside becomes a constant.
  auto slotOf = [&](Value v) -> FailureOr<int> {
    auto it = slot.find(v);
    if (it != slot.end())
      return it->second;
    const Tensor *captured = outer(v);
    if (!captured || captured->size() != 1)
      return owner->emitError("reference: a linalg body uses a non-scalar "
                              "value defined outside it");
    int s = newSlot(v);
    tape.initialSlots[s] = captured->data[0];
    return s;
  };
  for (Operation &op : body) {
    if (auto yield = dyn_cast<linalg::YieldOp>(op)) {
      for (Value v : yield.getValues()) {
        FailureOr<int> s = slotOf(v);
        if (failed(s))
          return failure();
        tape.yields.push_back(*s);
      }
      continue;
    }
    if (auto cst = dyn_cast<arith::ConstantOp>(op)) {
      int s = newSlot(cst.getResult());
      if (auto f = dyn_cast<FloatAttr>(cst.getValue()))
        tape.initialSlots[s] = f.getValueAsDouble();
      else if (auto i = dyn_cast<IntegerAttr>(cst.getValue()))
        tape.initialSlots[s] = static_cast<double>(i.getInt());
      else
        return op.emitError("reference: unsupported constant in a linalg body");
      continue;
    }
    if (auto index = dyn_cast<linalg::IndexOp>(op)) {
      ScalarInstr instr{ScalarOpKind::Index, newSlot(index.getResult())};
      instr.imm = index.getDim();
      tape.instrs.push_back(instr);
      continue;
    }
    if (auto extract = dyn_cast<tensor::ExtractOp>(op)) {
      ScalarInstr instr{ScalarOpKind::Extract, 0};
      instr.tensor = outer(extract.getTensor());
      if (!instr.tensor)
        return owner->emitError("reference: tensor.extract in a linalg body "
                                "must read a tensor defined outside it");
      for (Value i : extract.getIndices()) {
        FailureOr<int> s = slotOf(i);
        if (failed(s))
          return failure();
        instr.indices.push_back(*s);
      }
      instr.result = newSlot(extract.getResult());
      tape.instrs.push_back(instr);
      continue;
    }
    std::optional<ScalarOpKind> kind =
        llvm::TypeSwitch<Operation *, std::optional<ScalarOpKind>>(&op)
            .Case<arith::AddIOp>([](auto) { return ScalarOpKind::AddI; })
            .Case<arith::SubIOp>([](auto) { return ScalarOpKind::SubI; })
            .Case<arith::MulIOp>([](auto) { return ScalarOpKind::MulI; })
            .Case<arith::DivSIOp>([](auto) { return ScalarOpKind::DivSI; })
            .Case<arith::RemSIOp>([](auto) { return ScalarOpKind::RemSI; })
            .Case<arith::MinSIOp>([](auto) { return ScalarOpKind::MinNum; })
            .Case<arith::MaxSIOp>([](auto) { return ScalarOpKind::MaxNum; })
            .Case<arith::IndexCastOp, arith::ExtSIOp>(
                [](auto) { return ScalarOpKind::Copy; })
            .Case<arith::CmpIOp>(
                [](arith::CmpIOp cmp) -> std::optional<ScalarOpKind> {
                  // Signed predicates only: unsigned ones would need the
                  // operands' bit patterns, which doubles do not keep.
                  switch (cmp.getPredicate()) {
                  case arith::CmpIPredicate::sgt:
                    return ScalarOpKind::CmpGT;
                  case arith::CmpIPredicate::sge:
                    return ScalarOpKind::CmpGE;
                  case arith::CmpIPredicate::slt:
                    return ScalarOpKind::CmpLT;
                  case arith::CmpIPredicate::sle:
                    return ScalarOpKind::CmpLE;
                  case arith::CmpIPredicate::eq:
                    return ScalarOpKind::CmpEQ;
                  case arith::CmpIPredicate::ne:
                    return ScalarOpKind::CmpNE;
                  default:
                    return std::nullopt;
                  }
                })
            .Case<arith::AddFOp>([](auto) { return ScalarOpKind::Add; })
            .Case<arith::SubFOp>([](auto) { return ScalarOpKind::Sub; })
            .Case<arith::MulFOp>([](auto) { return ScalarOpKind::Mul; })
            .Case<arith::DivFOp>([](auto) { return ScalarOpKind::Div; })
            .Case<arith::NegFOp>([](auto) { return ScalarOpKind::Neg; })
            .Case<arith::MaximumFOp>([](auto) { return ScalarOpKind::Maximum; })
            .Case<arith::MinimumFOp>([](auto) { return ScalarOpKind::Minimum; })
            .Case<arith::MaxNumFOp>([](auto) { return ScalarOpKind::MaxNum; })
            .Case<arith::MinNumFOp>([](auto) { return ScalarOpKind::MinNum; })
            .Case<math::ExpOp>([](auto) { return ScalarOpKind::Exp; })
            .Case<math::LogOp>([](auto) { return ScalarOpKind::Log; })
            .Case<math::Log1pOp>([](auto) { return ScalarOpKind::Log1p; })
            .Case<math::ExpM1Op>([](auto) { return ScalarOpKind::Expm1; })
            .Case<math::TanhOp>([](auto) { return ScalarOpKind::Tanh; })
            .Case<math::ErfOp>([](auto) { return ScalarOpKind::Erf; })
            .Case<math::SqrtOp>([](auto) { return ScalarOpKind::Sqrt; })
            .Case<math::RsqrtOp>([](auto) { return ScalarOpKind::Rsqrt; })
            .Case<math::AbsFOp>([](auto) { return ScalarOpKind::Abs; })
            .Case<math::PowFOp>([](auto) { return ScalarOpKind::Pow; })
            .Case<arith::ExtFOp, arith::TruncFOp>(
                [](auto) { return ScalarOpKind::Copy; })
            .Case<arith::SIToFPOp>(
                [](arith::SIToFPOp op) -> std::optional<ScalarOpKind> {
                  // A signed i1 `true` is -1; comparisons here yield 1.
                  if (op.getIn().getType().isInteger(1))
                    return ScalarOpKind::Neg;
                  return ScalarOpKind::Copy;
                })
            .Case<arith::SelectOp>([](auto) { return ScalarOpKind::Select; })
            .Case<arith::CmpFOp>(
                [](arith::CmpFOp cmp) -> std::optional<ScalarOpKind> {
                  using P = arith::CmpFPredicate;
                  switch (cmp.getPredicate()) {
                  case P::OGT:
                  case P::UGT:
                    return ScalarOpKind::CmpGT;
                  case P::OGE:
                  case P::UGE:
                    return ScalarOpKind::CmpGE;
                  case P::OLT:
                  case P::ULT:
                    return ScalarOpKind::CmpLT;
                  case P::OLE:
                  case P::ULE:
                    return ScalarOpKind::CmpLE;
                  case P::OEQ:
                  case P::UEQ:
                    return ScalarOpKind::CmpEQ;
                  case P::ONE:
                  case P::UNE:
                    return ScalarOpKind::CmpNE;
                  default:
                    return std::nullopt;
                  }
                })
            .Default([](Operation *) { return std::nullopt; });
    if (!kind)
      return owner->emitError("reference: unsupported op '")
             << op.getName() << "' in a linalg body";
    ScalarInstr instr{*kind, 0};
    if (auto cmp = dyn_cast<arith::CmpFOp>(op)) {
      using P = arith::CmpFPredicate;
      P p = cmp.getPredicate();
      instr.unordered = p == P::UGT || p == P::UGE || p == P::ULT ||
                        p == P::ULE || p == P::UEQ || p == P::UNE;
    }
    int *operandSlots[3] = {&instr.a, &instr.b, &instr.c};
    for (auto [i, operand] : llvm::enumerate(op.getOperands())) {
      FailureOr<int> s = slotOf(operand);
      if (failed(s))
        return failure();
      if (i >= 3)
        return owner->emitError("reference: unsupported op '")
               << op.getName() << "' in a linalg body";
      *operandSlots[i] = *s;
    }
    instr.result = newSlot(op.getResult(0));
    tape.instrs.push_back(instr);
  }
  return tape;
}

/// Runs the tape at loop indices `iv`; false if a tensor.extract index is
/// out of bounds.
bool runTape(const ScalarTape &tape, std::vector<double> &s,
             ArrayRef<int64_t> iv) {
  for (const ScalarInstr &in : tape.instrs) {
    double a = in.a >= 0 ? s[in.a] : 0, b = in.b >= 0 ? s[in.b] : 0;
    double r = 0;
    switch (in.kind) {
    case ScalarOpKind::Index:
      r = static_cast<double>(iv[in.imm]);
      break;
    case ScalarOpKind::AddI:
      r = a + b;
      break;
    case ScalarOpKind::SubI:
      r = a - b;
      break;
    case ScalarOpKind::MulI:
      r = a * b;
      break;
    case ScalarOpKind::DivSI:
    case ScalarOpKind::RemSI:
      if (b == 0)
        return false;
      r = in.kind == ScalarOpKind::DivSI ? std::trunc(a / b) : std::fmod(a, b);
      break;
    case ScalarOpKind::Extract: {
      int64_t offset = 0;
      auto strides = in.tensor->strides();
      for (auto [d, slotIndex] : llvm::enumerate(in.indices)) {
        double i = s[slotIndex];
        if (!(i >= 0 && i < in.tensor->shape[d]))
          return false;
        offset += static_cast<int64_t>(i) * strides[d];
      }
      r = in.tensor->data[offset];
      break;
    }
    case ScalarOpKind::Add:
      r = a + b;
      break;
    case ScalarOpKind::Sub:
      r = a - b;
      break;
    case ScalarOpKind::Mul:
      r = a * b;
      break;
    case ScalarOpKind::Div:
      r = a / b;
      break;
    case ScalarOpKind::Neg:
      r = -a;
      break;
    case ScalarOpKind::Maximum: // IEEE maximum: NaN wins, +0 > -0
      r = std::isnan(a) || std::isnan(b) ? NAN
          : a == b                       ? (std::signbit(a) ? b : a)
                                         : std::max(a, b);
      break;
    case ScalarOpKind::Minimum:
      r = std::isnan(a) || std::isnan(b) ? NAN
          : a == b                       ? (std::signbit(a) ? a : b)
                                         : std::min(a, b);
      break;
    case ScalarOpKind::MaxNum:
      r = std::fmax(a, b);
      break;
    case ScalarOpKind::MinNum:
      r = std::fmin(a, b);
      break;
    case ScalarOpKind::Exp:
      r = std::exp(a);
      break;
    case ScalarOpKind::Log:
      r = std::log(a);
      break;
    case ScalarOpKind::Log1p:
      r = std::log1p(a);
      break;
    case ScalarOpKind::Expm1:
      r = std::expm1(a);
      break;
    case ScalarOpKind::Tanh:
      r = std::tanh(a);
      break;
    case ScalarOpKind::Erf:
      r = std::erf(a);
      break;
    case ScalarOpKind::Sqrt:
      r = std::sqrt(a);
      break;
    case ScalarOpKind::Rsqrt:
      r = 1.0 / std::sqrt(a);
      break;
    case ScalarOpKind::Abs:
      r = std::abs(a);
      break;
    case ScalarOpKind::Pow:
      r = std::pow(a, b);
      break;
    case ScalarOpKind::Copy:
      r = a;
      break;
    case ScalarOpKind::CmpGT:
      r = a > b;
      break;
    case ScalarOpKind::CmpGE:
      r = a >= b;
      break;
    case ScalarOpKind::CmpLT:
      r = a < b;
      break;
    case ScalarOpKind::CmpLE:
      r = a <= b;
      break;
    case ScalarOpKind::CmpEQ:
      r = a == b;
      break;
    case ScalarOpKind::CmpNE:
      r = a != b && !std::isnan(a) && !std::isnan(b);
      break;
    case ScalarOpKind::Select:
      r = a != 0 ? b : s[in.c];
      break;
    }
    // The C++ comparisons are the ordered predicates; unordered ones are
    // also true when an operand is NaN.
    if (in.unordered && (std::isnan(a) || std::isnan(b)))
      r = 1;
    s[in.result] = r;
  }
  return true;
}

/// `expr` as `constant + sum coefficients[d] * d`, or false if it is not
/// linear in the loop dimensions.
bool linearize(AffineExpr expr, SmallVectorImpl<int64_t> &coefficients,
               int64_t &constant, int64_t scale = 1) {
  if (auto dim = dyn_cast<AffineDimExpr>(expr)) {
    coefficients[dim.getPosition()] += scale;
    return true;
  }
  if (auto cst = dyn_cast<AffineConstantExpr>(expr)) {
    constant += scale * cst.getValue();
    return true;
  }
  auto bin = dyn_cast<AffineBinaryOpExpr>(expr);
  if (!bin)
    return false;
  if (bin.getKind() == AffineExprKind::Add)
    return linearize(bin.getLHS(), coefficients, constant, scale) &&
           linearize(bin.getRHS(), coefficients, constant, scale);
  if (bin.getKind() == AffineExprKind::Mul) {
    // One side is constant in a pure affine map.
    if (auto c = dyn_cast<AffineConstantExpr>(bin.getRHS()))
      return linearize(bin.getLHS(), coefficients, constant,
                       scale * c.getValue());
    if (auto c = dyn_cast<AffineConstantExpr>(bin.getLHS()))
      return linearize(bin.getRHS(), coefficients, constant,
                       scale * c.getValue());
  }
  return false;
}

//===----------------------------------------------------------------------===//
// The evaluator
//===----------------------------------------------------------------------===//

class Evaluator {
public:
  LogicalResult run(func::FuncOp fn, ArrayRef<Tensor> args,
                    SmallVector<Tensor> &results) {
    Block &body = fn.getBody().front();
    for (auto [arg, value] : llvm::zip(body.getArguments(), args)) {
      if (failed(checkType(fn, arg.getType(), value, "argument")))
        return failure();
      values[arg] = value;
    }
    for (Operation &op : body) {
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        for (Value v : ret.getOperands())
          results.push_back(values[v]);
        return success();
      }
      if (failed(eval(&op)))
        return failure();
    }
    return fn.emitError("reference: function has no return");
  }

private:
  const Tensor &get(Value v) { return values[v]; }
  const Tensor *getOrNull(Value v) { return v ? &values[v] : nullptr; }
  int64_t index(Value v) { return static_cast<int64_t>(values[v].data[0]); }
  int64_t index(OpFoldResult ofr) {
    if (auto attr = dyn_cast<Attribute>(ofr))
      return cast<IntegerAttr>(attr).getInt();
    return index(cast<Value>(ofr));
  }

  /// Static dims of `type` must match the computed value.
  LogicalResult checkType(Operation *op, Type type, const Tensor &t,
                          StringRef what) {
    auto shaped = dyn_cast<RankedTensorType>(type);
    if (!shaped)
      return success();
    bool ok = shaped.getRank() == t.rank();
    for (int64_t i = 0; ok && i < t.rank(); ++i)
      ok = shaped.isDynamicDim(i) || shaped.getDimSize(i) == t.shape[i];
    if (ok)
      return success();
    return op->emitError("reference: ")
           << what << " of shape " << t.shapeString() << " does not fit "
           << type;
  }

  LogicalResult set(Operation *op, Value result, Tensor t) {
    if (failed(checkType(op, result.getType(), t, "result")))
      return failure();
    values[result] = std::move(t);
    return success();
  }

  /// The verifiers only see static sizes; a dynamic size that turns out
  /// inconsistent at run time (a state of another batch, a runtime width)
  /// must fail here instead of reading out of bounds in a kernel. Re-verify
  /// a copy of the xlstm op whose operands have the concrete shapes.
  LogicalResult verifyConcreteShapes(Operation *op) {
    if (!isa<XLSTMDialect>(op->getDialect()))
      return success();
    // A detached function whose arguments have the concrete types holds the
    // copy (ops need a parent region to be verified).
    SmallVector<Value> operands;
    SmallVector<Type> types;
    for (Value operand : op->getOperands()) {
      if (llvm::is_contained(operands, operand))
        continue;
      Type type = operand.getType();
      if (auto ranked = dyn_cast<RankedTensorType>(type))
        type = RankedTensorType::get(values[operand].shape,
                                     ranked.getElementType());
      operands.push_back(operand);
      types.push_back(type);
    }
    OpBuilder b(op->getContext());
    OwningOpRef<func::FuncOp> scratch = func::FuncOp::create(
        op->getLoc(), "scratch", b.getFunctionType(types, {}));
    Block *entry = scratch->addEntryBlock();
    IRMapping mapping;
    mapping.map(operands, entry->getArguments());
    b.setInsertionPointToEnd(entry);
    Operation *copy = b.clone(*op, mapping);
    // Ops whose result has the input's type (AllTypesMatch) get the
    // input's concrete type; other results keep their dynamic sizes.
    if (isa<MLSTMBlockOp, SLSTMBlockOp, LargeBlockOp, CausalConv1dOp,
            LayerNormOp, MultiHeadNormOp, RMSNormOp, SoftCapOp, GatedFFNOp>(
            copy))
      copy->getResult(0).setType(types.front());
    return mlir::verify(copy, /*verifyRecursively=*/false);
  }

  LogicalResult eval(Operation *op) {
    if (failed(verifyConcreteShapes(op)))
      return failure();
    return llvm::TypeSwitch<Operation *, LogicalResult>(op)
        .Case<arith::ConstantOp>([&](auto c) { return evalConstant(c); })
        .Case<tensor::DimOp>([&](tensor::DimOp d) -> LogicalResult {
          const Tensor &src = get(d.getSource());
          int64_t i = index(d.getIndex());
          if (i < 0 || i >= src.rank())
            return d.emitError("reference: dimension ")
                   << i << " of a rank-" << src.rank() << " tensor";
          values[d.getResult()] = Tensor({}, {static_cast<double>(src.dim(i))});
          return success();
        })
        .Case<tensor::EmptyOp>([&](tensor::EmptyOp e) -> LogicalResult {
          SmallVector<int64_t> shape;
          for (OpFoldResult s : e.getMixedSizes())
            shape.push_back(index(s));
          if (llvm::any_of(shape, [](int64_t d) { return d < 0; }))
            return e.emitError("reference: negative size in tensor.empty");
          return set(op, e.getResult(), Tensor(shape));
        })
        .Case<tensor::ExtractSliceOp>([&](auto s) { return evalSlice(s); })
        // A cast changes only what the type knows; set() checks the sizes
        // it claims against the data.
        .Case<tensor::CastOp>([&](tensor::CastOp c) {
          return set(op, c.getResult(), get(c.getSource()));
        })
        .Case<tensor::ExpandShapeOp>([&](tensor::ExpandShapeOp e) {
          SmallVector<int64_t> shape;
          for (OpFoldResult s : e.getMixedOutputShape())
            shape.push_back(index(s));
          return reshape(op, e.getSrc(), e.getResult(), shape);
        })
        .Case<tensor::CollapseShapeOp>([&](tensor::CollapseShapeOp c) {
          const Tensor &src = get(c.getSrc());
          SmallVector<int64_t> shape;
          for (const ReassociationIndices &group :
               c.getReassociationIndices()) {
            int64_t n = 1;
            for (int64_t d : group)
              n *= src.shape[d];
            shape.push_back(n);
          }
          return reshape(op, c.getSrc(), c.getResult(), shape);
        })
        .Case<arith::AddIOp, arith::SubIOp, arith::MulIOp, arith::DivSIOp,
              arith::CeilDivSIOp, arith::FloorDivSIOp, arith::RemSIOp,
              arith::MinSIOp, arith::MaxSIOp, arith::IndexCastOp, arith::CmpIOp,
              arith::SelectOp>([&](Operation *o) { return evalIndexArith(o); })
        .Case<tensor::ConcatOp>([&](auto c) { return evalConcat(c); })
        .Case<tensor::InsertSliceOp>([&](auto s) { return evalInsertSlice(s); })
        .Case<scf::ForOp>([&](auto f) { return evalFor(f); })
        .Case<SLSTMStepOp>([&](auto s) { return evalSLSTMStep(s); })
        .Case<linalg::LinalgOp>([&](auto l) { return evalLinalg(l); })
        .Case<EmbeddingOp>([&](EmbeddingOp e) -> LogicalResult {
          Tensor out;
          double bad = 0;
          if (!embedding(get(e.getTokens()), get(e.getTable()), out, bad))
            return e.emitError("reference: token ")
                   << (std::isfinite(bad) && std::abs(bad) < 1e15
                           ? std::to_string(static_cast<int64_t>(bad))
                           : std::to_string(bad))
                   << " is out of range [0, " << get(e.getTable()).dim(0)
                   << ")";
          return set(op, e.getResult(), std::move(out));
        })
        .Case<LMHeadOp>([&](LMHeadOp h) {
          Tensor out = linear(get(h.getInput()), get(h.getWeight()), nullptr);
          if (auto cap = h.getSoftCap())
            out = softCap(out, cap->convertToDouble());
          return set(op, h.getResult(), std::move(out));
        })
        .Case<MLSTMOp>([&](auto m) { return evalMLSTM(m); })
        .Case<SLSTMOp>([&](auto s) { return evalSLSTM(s); })
        .Case<MLSTMChunkStatesOp>([&](auto c) { return evalChunkStates(c); })
        .Case<MLSTMChunkOutputsOp>([&](MLSTMChunkOutputsOp c) {
          return set(op, c.getH(),
                     mlstmChunkOutputs(get(c.getQ()), get(c.getK()),
                                       get(c.getV()), get(c.getIgate()),
                                       get(c.getFgate()), get(c.getChunkC()),
                                       get(c.getChunkN()), get(c.getChunkM()),
                                       c.getChunkSize(),
                                       c.getQkScaling() == QKScaling::key,
                                       c.getEps().convertToDouble()));
        })
        .Case<CausalConv1dOp>([&](CausalConv1dOp c) -> LogicalResult {
          Tensor final;
          if (failed(set(op, c.getResult(),
                         causalConv1d(get(c.getInput()), get(c.getWeight()),
                                      getOrNull(c.getBias()),
                                      getOrNull(c.getInitialState()), &final))))
            return failure();
          return c.getFinalState() ? set(op, c.getFinalState(), final)
                                   : success();
        })
        .Case<HeadwiseLinearOp>([&](HeadwiseLinearOp h) {
          return set(op, h.getResult(),
                     headwiseLinear(get(h.getInput()), get(h.getWeight()),
                                    getOrNull(h.getBias())));
        })
        .Case<LayerNormOp>([&](LayerNormOp n) {
          return set(op, n.getResult(),
                     groupLayerNorm(
                         get(n.getInput()), 1, getOrNull(n.getWeight()),
                         getOrNull(n.getBias()), n.getEps().convertToDouble(),
                         n.getScaling() == NormScaling::one_plus_weight));
        })
        .Case<MultiHeadNormOp>([&](MultiHeadNormOp n) {
          return set(
              op, n.getResult(),
              groupLayerNorm(get(n.getInput()), n.getNumHeads(),
                             getOrNull(n.getWeight()), getOrNull(n.getBias()),
                             n.getEps().convertToDouble(),
                             n.getScaling() == NormScaling::one_plus_weight));
        })
        .Case<RMSNormOp>([&](RMSNormOp n) {
          return set(op, n.getResult(),
                     rmsNorm(get(n.getInput()), getOrNull(n.getWeight()),
                             getOrNull(n.getBias()),
                             n.getEps().convertToDouble()));
        })
        .Case<SoftCapOp>([&](SoftCapOp s) {
          return set(op, s.getResult(),
                     softCap(get(s.getInput()), s.getCap().convertToDouble()));
        })
        .Case<GatedFFNOp>([&](GatedFFNOp f) {
          return set(op, f.getResult(),
                     gatedFFN(get(f.getInput()), get(f.getGateWeight()),
                              get(f.getUpWeight()), get(f.getDownWeight()),
                              getOrNull(f.getGateBias()),
                              getOrNull(f.getUpBias()),
                              getOrNull(f.getDownBias()), toAct(f.getAct())));
        })
        .Case<MLSTMBlockOp>([&](auto b) { return evalMLSTMBlock(b); })
        .Case<SLSTMBlockOp>([&](auto b) { return evalSLSTMBlock(b); })
        .Case<LargeBlockOp>([&](auto b) { return evalLargeBlock(b); })
        .Default([&](Operation *) {
          return op->emitError("reference: unsupported op '")
                 << op->getName() << "'";
        });
  }

  static Act toAct(Activation act) {
    switch (act) {
    case Activation::gelu:
      return Act::Gelu;
    case Activation::relu:
      return Act::Relu;
    case Activation::relu_squared:
      return Act::ReluSquared;
    case Activation::sigmoid:
      return Act::Sigmoid;
    case Activation::swish:
      return Act::Swish;
    case Activation::selu:
      return Act::Selu;
    }
    llvm_unreachable("unknown activation");
  }

  LogicalResult evalConstant(arith::ConstantOp c) {
    Attribute attr = c.getValue();
    if (auto f = dyn_cast<FloatAttr>(attr))
      values[c.getResult()] = Tensor({}, {f.getValueAsDouble()});
    else if (auto i = dyn_cast<IntegerAttr>(attr))
      values[c.getResult()] =
          Tensor({}, {static_cast<double>(i.getValue().getSExtValue())});
    else if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
      auto type = cast<RankedTensorType>(dense.getType());
      std::vector<double> data;
      if (isa<FloatType>(type.getElementType()))
        for (APFloat v : dense.getValues<APFloat>())
          data.push_back(v.convertToDouble());
      else
        for (APInt v : dense.getValues<APInt>())
          data.push_back(static_cast<double>(v.getSExtValue()));
      values[c.getResult()] = Tensor(type.getShape(), std::move(data));
    } else {
      return c.emitError("reference: unsupported constant");
    }
    return success();
  }

  LogicalResult reshape(Operation *op, Value src, Value result,
                        ArrayRef<int64_t> shape) {
    Tensor t = get(src);
    if (Tensor::numElements(shape) != t.size())
      return op->emitError("reference: reshape to ")
             << Tensor(shape).shapeString() << " does not preserve the "
             << t.size() << " elements of " << t.shapeString();
    t.shape.assign(shape.begin(), shape.end());
    return set(op, result, std::move(t));
  }

  LogicalResult evalSlice(tensor::ExtractSliceOp s) {
    const Tensor &src = get(s.getSource());
    SliceGeometry g = geometry(s);
    Tensor out(g.sizes);
    if (failed(forEachInSlice(s, src.shape, g, [&](int64_t i, int64_t off) {
          out.data[i] = src.data[off];
        })))
      return failure();
    // Rank-reducing slices drop unit dims.
    auto resultType = cast<RankedTensorType>(s.getResult().getType());
    if (resultType.getRank() != out.rank()) {
      SmallVector<int64_t> kept;
      llvm::SmallBitVector dropped = s.getDroppedDims();
      for (int64_t d = 0; d < out.rank(); ++d)
        if (!dropped.test(d))
          kept.push_back(out.shape[d]);
      out.shape.assign(kept.begin(), kept.end());
    }
    return set(s, s.getResult(), std::move(out));
  }

  /// Offsets, sizes and strides of a slice op as numbers.
  struct SliceGeometry {
    SmallVector<int64_t> offsets, sizes, strides;
  };
  SliceGeometry geometry(OffsetSizeAndStrideOpInterface op) {
    SliceGeometry g;
    for (OpFoldResult o : op.getMixedOffsets())
      g.offsets.push_back(index(o));
    for (OpFoldResult o : op.getMixedSizes())
      g.sizes.push_back(index(o));
    for (OpFoldResult o : op.getMixedStrides())
      g.strides.push_back(index(o));
    return g;
  }
  /// Calls `fn(sliceIndex, fullOffset)` for every element of the slice `g`
  /// of a tensor of `shape`, or fails if it is out of bounds.
  LogicalResult forEachInSlice(Operation *op, ArrayRef<int64_t> shape,
                               const SliceGeometry &g,
                               function_ref<void(int64_t, int64_t)> fn) {
    for (size_t d = 0; d < shape.size(); ++d) {
      if (g.sizes[d] < 0 || g.strides[d] < 1)
        return op->emitError("reference: slices need sizes >= 0 and "
                             "strides >= 1 (dimension ")
               << d << ")";
      if (g.sizes[d] > 0 &&
          (g.offsets[d] < 0 ||
           g.offsets[d] + (g.sizes[d] - 1) * g.strides[d] >= shape[d]))
        return op->emitError("reference: slice out of bounds in dimension ")
               << d;
    }
    Tensor full(shape);
    auto strides = full.strides();
    int64_t count = Tensor::numElements(g.sizes);
    SmallVector<int64_t> idx(g.sizes.size(), 0);
    for (int64_t i = 0; i < count; ++i) {
      int64_t off = 0;
      for (size_t d = 0; d < idx.size(); ++d)
        off += (g.offsets[d] + idx[d] * g.strides[d]) * strides[d];
      fn(i, off);
      for (int64_t d = idx.size() - 1; d >= 0; --d) {
        if (++idx[d] < g.sizes[d])
          break;
        idx[d] = 0;
      }
    }
    return success();
  }

  /// Scalar integer arithmetic outside linalg bodies: chunk offsets and
  /// lengths, loop bounds.
  LogicalResult evalIndexArith(Operation *op) {
    if (op->getNumResults() != 1 ||
        !op->getResult(0).getType().isIntOrIndex() ||
        llvm::any_of(op->getOperandTypes(),
                     [](Type t) { return !t.isIntOrIndex(); }))
      return op->emitError("reference: only scalar integer arithmetic is "
                           "supported outside linalg bodies");
    SmallVector<int64_t> x;
    for (Value v : op->getOperands())
      x.push_back(index(v));
    auto divides = [&]() -> LogicalResult {
      if (x[1] == 0)
        return op->emitError("reference: integer division by zero");
      return success();
    };
    int64_t r = 0;
    if (isa<arith::DivSIOp, arith::CeilDivSIOp, arith::FloorDivSIOp,
            arith::RemSIOp>(op) &&
        failed(divides()))
      return failure();
    llvm::TypeSwitch<Operation *>(op)
        .Case<arith::AddIOp>([&](auto) { r = x[0] + x[1]; })
        .Case<arith::SubIOp>([&](auto) { r = x[0] - x[1]; })
        .Case<arith::MulIOp>([&](auto) { r = x[0] * x[1]; })
        .Case<arith::DivSIOp>([&](auto) { r = x[0] / x[1]; })
        .Case<arith::RemSIOp>([&](auto) { r = x[0] % x[1]; })
        .Case<arith::CeilDivSIOp>([&](auto) {
          r = x[0] / x[1] + ((x[0] % x[1] != 0) && ((x[0] < 0) == (x[1] < 0)));
        })
        .Case<arith::FloorDivSIOp>([&](auto) {
          r = x[0] / x[1] - ((x[0] % x[1] != 0) && ((x[0] < 0) != (x[1] < 0)));
        })
        .Case<arith::MinSIOp>([&](auto) { r = std::min(x[0], x[1]); })
        .Case<arith::MaxSIOp>([&](auto) { r = std::max(x[0], x[1]); })
        .Case<arith::IndexCastOp>([&](auto) { r = x[0]; })
        .Case<arith::SelectOp>([&](auto) { r = x[0] ? x[1] : x[2]; })
        .Case<arith::CmpIOp>([&](arith::CmpIOp c) {
          using P = arith::CmpIPredicate;
          uint64_t ua = x[0], ub = x[1];
          switch (c.getPredicate()) {
          case P::eq:
            r = x[0] == x[1];
            break;
          case P::ne:
            r = x[0] != x[1];
            break;
          case P::slt:
            r = x[0] < x[1];
            break;
          case P::sle:
            r = x[0] <= x[1];
            break;
          case P::sgt:
            r = x[0] > x[1];
            break;
          case P::sge:
            r = x[0] >= x[1];
            break;
          case P::ult:
            r = ua < ub;
            break;
          case P::ule:
            r = ua <= ub;
            break;
          case P::ugt:
            r = ua > ub;
            break;
          case P::uge:
            r = ua >= ub;
            break;
          }
        });
    values[op->getResult(0)] = Tensor({}, {static_cast<double>(r)});
    return success();
  }

  LogicalResult evalInsertSlice(tensor::InsertSliceOp s) {
    const Tensor &src = get(s.getSource());
    Tensor out = get(s.getDest());
    SliceGeometry g = geometry(s);
    if (Tensor::numElements(g.sizes) != src.size())
      return s.emitError("reference: inserted slice has ")
             << src.size() << " elements, the slice "
             << Tensor::numElements(g.sizes);
    if (failed(forEachInSlice(s, out.shape, g, [&](int64_t i, int64_t off) {
          out.data[off] = src.data[i];
        })))
      return failure();
    return set(s, s.getResult(), std::move(out));
  }

  LogicalResult evalFor(scf::ForOp loop) {
    int64_t lb = index(loop.getLowerBound()), ub = index(loop.getUpperBound());
    int64_t step = index(loop.getStep());
    if (step <= 0)
      return loop.emitError("reference: scf.for step must be positive");
    SmallVector<Tensor> iter;
    for (Value init : loop.getInitArgs())
      iter.push_back(get(init));
    Block *body = loop.getBody();
    auto yield = cast<scf::YieldOp>(body->getTerminator());
    for (int64_t i = lb; i < ub; i += step) {
      values[loop.getInductionVar()] = Tensor({}, {static_cast<double>(i)});
      for (auto [arg, value] : llvm::zip(loop.getRegionIterArgs(), iter))
        values[arg] = std::move(value);
      for (Operation &op : body->without_terminator())
        if (failed(eval(&op)))
          return failure();
      for (auto [value, yielded] : llvm::zip(iter, yield.getOperands()))
        value = get(yielded);
    }
    for (auto [result, value] : llvm::zip(loop.getResults(), iter))
      if (failed(set(loop, result, std::move(value))))
        return failure();
    return success();
  }

  LogicalResult evalSLSTMStep(SLSTMStepOp op) {
    // One step of the sequence kernel: gates (B, H) as (B, 1, H).
    auto asSequence = [&](Value gate) {
      Tensor t = get(gate);
      t.shape.insert(t.shape.begin() + 1, 1);
      return t;
    };
    SLSTMState state, final;
    for (Value v : op.getState())
      state.push_back(get(v));
    slstm(asSequence(op.getIgate()), asSequence(op.getFgate()),
          asSequence(op.getZgate()), asSequence(op.getOgate()),
          get(op.getRecurrentKernel()), get(op.getBias()), op.getNumHeads(),
          op.getFunction() == SLSTMFunction::lstm, &state, &final);
    for (auto [v, t] : llvm::zip(op.getNewState(), final))
      if (failed(set(op, v, std::move(t))))
        return failure();
    return success();
  }

  LogicalResult evalConcat(tensor::ConcatOp c) {
    int64_t dim = c.getDim();
    SmallVector<const Tensor *> inputs;
    for (Value v : c.getInputs())
      inputs.push_back(&get(v));
    SmallVector<int64_t> shape = llvm::to_vector(inputs.front()->shape);
    for (const Tensor *t : inputs)
      for (int64_t d = 0; d < t->rank(); ++d)
        if (d != dim && t->shape[d] != shape[d])
          return c.emitError("reference: concatenated tensors differ in "
                             "dimension ")
                 << d << " (" << t->shapeString() << " vs "
                 << inputs.front()->shapeString() << ")";
    shape[dim] = 0;
    for (const Tensor *t : inputs)
      shape[dim] += t->shape[dim];
    Tensor out(shape);
    int64_t outer = 1;
    for (int64_t d = 0; d < dim; ++d)
      outer *= shape[d];
    int64_t pos = 0;
    int64_t outInner = out.size() / std::max<int64_t>(outer, 1);
    for (const Tensor *t : inputs) {
      int64_t inner = t->size() / std::max<int64_t>(outer, 1);
      for (int64_t o = 0; o < outer; ++o)
        std::copy_n(&t->data[o * inner], inner, &out.data[o * outInner + pos]);
      pos += inner;
    }
    return set(c, c.getResult(), std::move(out));
  }

  /// Any linalg structured op on tensors whose indexing maps are projected
  /// permutations: loop over the iteration space, run the scalar body.
  LogicalResult evalLinalg(linalg::LinalgOp op) {
    if (!op.hasPureTensorSemantics())
      return op.emitError("reference: linalg on buffers is not supported");
    FailureOr<ScalarTape> tape =
        compileBody(op, *op.getBlock(), [&](Value v) -> const Tensor * {
          auto it = values.find(v);
          return it == values.end() ? nullptr : &it->second;
        });
    if (failed(tape))
      return failure();
    SmallVector<OpOperand *> operands;
    for (OpOperand &operand : op->getOpOperands())
      operands.push_back(&operand);
    // Results start as copies of the inits (destination-passing style).
    SmallVector<Tensor> outs;
    for (OpOperand &init : op.getDpsInitsMutable())
      outs.push_back(get(init.get()));
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    unsigned numLoops = op.getNumLoops();
    // Loop bounds from the operand sizes.
    SmallVector<int64_t> bounds(numLoops, -1);
    SmallVector<SmallVector<int64_t>> coef(operands.size(),
                                           SmallVector<int64_t>(numLoops, 0));
    SmallVector<const Tensor *> tensors;
    unsigned numInputs = op.getNumDpsInputs();
    for (auto [i, operand] : llvm::enumerate(operands))
      tensors.push_back(i < numInputs ? &get(operand->get())
                                      : &outs[i - numInputs]);
    // Each indexing expression is linear in the loops: pure dimensions
    // bound the loops; the others (a convolution's t + k) are checked to
    // stay inside the operand once the bounds are known.
    SmallVector<int64_t> base(operands.size(), 0);
    struct Access {
      SmallVector<int64_t> coefficients;
      int64_t constant, size;
    };
    SmallVector<Access> general;
    for (auto [i, map] : llvm::enumerate(maps)) {
      const Tensor *t = tensors[i];
      if (static_cast<int64_t>(map.getNumResults()) != t->rank())
        return op.emitError("reference: indexing map rank mismatch");
      auto strides = t->strides();
      for (auto [d, expr] : llvm::enumerate(map.getResults())) {
        if (auto dimExpr = dyn_cast<AffineDimExpr>(expr)) {
          unsigned loop = dimExpr.getPosition();
          if (bounds[loop] >= 0 && bounds[loop] != t->shape[d])
            return op.emitError("reference: operand sizes disagree on loop ")
                   << loop;
          bounds[loop] = t->shape[d];
          coef[i][loop] += strides[d];
          continue;
        }
        Access access{SmallVector<int64_t>(numLoops, 0), 0, t->shape[d]};
        if (!linearize(expr, access.coefficients, access.constant))
          return op.emitError("reference: indexing maps must be linear");
        for (unsigned l = 0; l < numLoops; ++l)
          coef[i][l] += access.coefficients[l] * strides[d];
        base[i] += access.constant * strides[d];
        general.push_back(std::move(access));
      }
    }
    for (int64_t b : bounds)
      if (b < 0)
        return op.emitError("reference: a loop is not bound by any operand");
    bool empty = llvm::is_contained(bounds, 0);
    for (const Access &a : empty ? ArrayRef<Access>() : general) {
      int64_t lo = a.constant, hi = a.constant;
      for (unsigned l = 0; l < numLoops; ++l) {
        int64_t reach = a.coefficients[l] * (bounds[l] - 1);
        (reach < 0 ? lo : hi) += reach;
      }
      if (lo < 0 || hi >= a.size)
        return op.emitError("reference: an indexing map reaches outside its "
                            "operand");
    }

    int64_t total = 1;
    for (int64_t b : bounds)
      total *= b;
    std::vector<double> slots = tape->initialSlots;
    SmallVector<int64_t> iv(numLoops, 0), offset(base);
    for (int64_t it = 0; it < total; ++it) {
      for (size_t i = 0; i < operands.size(); ++i)
        slots[i] = tensors[i]->data[offset[i]];
      if (!runTape(*tape, slots, iv))
        return op.emitError("reference: a tensor.extract index is out of "
                            "bounds or an integer division by zero");
      for (size_t r = 0; r < outs.size(); ++r)
        outs[r].data[offset[numInputs + r]] = slots[tape->yields[r]];
      // Odometer step over the loops, innermost last.
      for (int64_t l = numLoops - 1; l >= 0; --l) {
        for (size_t i = 0; i < operands.size(); ++i)
          offset[i] += coef[i][l];
        if (++iv[l] < bounds[l])
          break;
        for (size_t i = 0; i < operands.size(); ++i)
          offset[i] -= coef[i][l] * bounds[l];
        iv[l] = 0;
      }
    }
    for (auto [result, out] : llvm::zip(op->getResults(), outs))
      if (failed(set(op, result, std::move(out))))
        return failure();
    return success();
  }

  static MLSTMState toMLSTMState(ArrayRef<Tensor> s) {
    return {s[0], s[1], s[2]};
  }

  LogicalResult evalMLSTM(MLSTMOp op) {
    std::optional<MLSTMState> initial;
    if (!op.getInitialState().empty())
      initial =
          MLSTMState{get(op.getInitialState()[0]), get(op.getInitialState()[1]),
                     get(op.getInitialState()[2])};
    MLSTMState final;
    Tensor h = mlstm(
        get(op.getQ()), get(op.getK()), get(op.getV()), get(op.getIgate()),
        get(op.getFgate()), op.getQkScaling() == QKScaling::key,
        op.getEps().convertToDouble(), initial ? &*initial : nullptr, &final);
    if (failed(set(op, op.getH(), std::move(h))))
      return failure();
    if (op.getFinalState().empty())
      return success();
    Tensor *states[3] = {&final.c, &final.n, &final.m};
    for (auto [v, t] : llvm::zip(op.getFinalState(), states))
      if (failed(set(op, v, std::move(*t))))
        return failure();
    return success();
  }

  LogicalResult evalChunkStates(MLSTMChunkStatesOp op) {
    std::optional<MLSTMState> initial;
    if (!op.getInitialState().empty())
      initial =
          MLSTMState{get(op.getInitialState()[0]), get(op.getInitialState()[1]),
                     get(op.getInitialState()[2])};
    MLSTMChunkStates st = mlstmChunkStates(
        get(op.getK()), get(op.getV()), get(op.getIgate()), get(op.getFgate()),
        op.getChunkSize(), op.getQkScaling() == QKScaling::key,
        initial ? &*initial : nullptr);
    Tensor *results[6] = {&st.c,       &st.n,       &st.m,
                          &st.final.c, &st.final.n, &st.final.m};
    for (auto [v, t] : llvm::zip(op->getResults(), results))
      if (failed(set(op, v, std::move(*t))))
        return failure();
    return success();
  }

  LogicalResult evalSLSTM(SLSTMOp op) {
    std::optional<SLSTMState> initial;
    if (!op.getInitialState().empty()) {
      initial.emplace();
      for (Value v : op.getInitialState())
        initial->push_back(get(v));
    }
    SLSTMState final;
    Tensor y = slstm(get(op.getIgate()), get(op.getFgate()), get(op.getZgate()),
                     get(op.getOgate()), get(op.getRecurrentKernel()),
                     get(op.getBias()), op.getNumHeads(),
                     op.getFunction() == SLSTMFunction::lstm,
                     initial ? &*initial : nullptr, &final);
    if (failed(set(op, op.getY(), std::move(y))))
      return failure();
    for (auto [v, t] : llvm::zip(op.getFinalState(), final))
      if (failed(set(op, v, std::move(t))))
        return failure();
    return success();
  }

  //===--------------------------------------------------------------------===//
  // Blocks, straight from the spec (independent of xlstm-expand-blocks)
  //===--------------------------------------------------------------------===//

  /// Columns [offset, offset + width) of the last dim.
  static Tensor lastDimSlice(const Tensor &x, int64_t offset, int64_t width) {
    int64_t in = x.dim(-1), n = x.size() / in;
    SmallVector<int64_t> shape = llvm::to_vector(x.shape);
    shape.back() = width;
    Tensor y(shape);
    for (int64_t r = 0; r < n; ++r)
      std::copy_n(&x.data[r * in + offset], width, &y.data[r * width]);
    return y;
  }
  /// Rows [offset, offset + count) of a matrix or vector.
  static Tensor rowSlice(const Tensor &w, int64_t offset, int64_t count) {
    int64_t inner = w.size() / w.dim(0);
    SmallVector<int64_t> shape = llvm::to_vector(w.shape);
    shape[0] = count;
    return Tensor(
        shape, std::vector<double>(w.data.begin() + offset * inner,
                                   w.data.begin() + (offset + count) * inner));
  }
  /// (B, S, NH*D) -> (B, NH, S, D) and back.
  static Tensor toHeads(const Tensor &x, int64_t nh) {
    int64_t b = x.dim(0), s = x.dim(1), d = x.dim(2) / nh;
    Tensor y({b, nh, s, d});
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t t = 0; t < s; ++t)
        for (int64_t h = 0; h < nh; ++h)
          std::copy_n(&x.data[((bi * s + t) * nh + h) * d], d,
                      &y.data[((bi * nh + h) * s + t) * d]);
    return y;
  }
  static Tensor fromHeads(const Tensor &x) {
    int64_t b = x.dim(0), nh = x.dim(1), s = x.dim(2), d = x.dim(3);
    Tensor y({b, s, nh * d});
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t h = 0; h < nh; ++h)
        for (int64_t t = 0; t < s; ++t)
          std::copy_n(&x.data[((bi * nh + h) * s + t) * d], d,
                      &y.data[((bi * s + t) * nh + h) * d]);
    return y;
  }
  static Tensor silu(Tensor x) {
    for (double &v : x.data)
      v = v * sigmoid(v);
    return x;
  }

  /// A block op's recurrent state by name: the initial tensors (null when
  /// the op starts from zeros) and the final ones the block computes.
  struct BlockStates {
    SmallVector<ParamSpec> specs;
    SmallVector<const Tensor *> initial;
    SmallVector<Tensor> final;

    int64_t indexOf(StringRef name) const {
      for (auto [i, spec] : llvm::enumerate(specs))
        if (spec.name == name)
          return i;
      llvm_unreachable("unknown state");
    }
    const Tensor *in(StringRef name) const {
      return initial.empty() ? nullptr : initial[indexOf(name)];
    }
    Tensor &out(StringRef name) { return final[indexOf(name)]; }
  };
  template <typename BlockOpT> BlockStates states(BlockOpT op) {
    BlockStates st;
    st.specs = op.getStateSpecs();
    for (Value v : op.getState())
      st.initial.push_back(&values[v]);
    st.final.resize(st.specs.size());
    return st;
  }
  /// Sets the block's output and, when it returns them, its final states.
  template <typename BlockOpT>
  LogicalResult setBlockResults(BlockOpT op, Tensor out, BlockStates &st) {
    if (failed(set(op, op.getResult(), std::move(out))))
      return failure();
    for (auto [v, t] : llvm::zip(op.getFinalState(), st.final))
      if (failed(set(op, v, std::move(t))))
        return failure();
    return success();
  }
  static MLSTMState mlstmStateIn(const BlockStates &st) {
    return {*st.in("C"), *st.in("n"), *st.in("m")};
  }

  template <typename BlockOpT>
  std::function<const Tensor *(StringRef)> params(BlockOpT op) {
    return [this, op](StringRef name) mutable -> const Tensor * {
      Value v = op.getParam(name);
      return v ? &values[v] : nullptr;
    };
  }

  LogicalResult evalMLSTMBlock(MLSTMBlockOp op) {
    MLSTMLayerAttr c = op.getConfig();
    auto p = params(op);
    int64_t di = c.getInnerDim(), nh = c.getNumHeads(),
            k = c.getConvKernelSize();
    const Tensor &x = get(op.getInput());
    Tensor xn = groupLayerNorm(x, 1, p("xlstm_norm.weight"), nullptr,
                               kXLSTMNormEps, true);
    Tensor up = linear(xn, *p("xlstm.proj_up.weight"), p("xlstm.proj_up.bias"));
    Tensor xm = lastDimSlice(up, 0, di), z = lastDimSlice(up, di, di);
    Tensor convW({di, k}, p("xlstm.conv1d.conv.weight")->data);
    BlockStates st = states(op);
    Tensor xc = silu(causalConv1d(xm, convW, p("xlstm.conv1d.conv.bias"),
                                  st.in("conv"), &st.out("conv")));
    Tensor q =
        headwiseLinear(xc, *p("xlstm.q_proj.weight"), p("xlstm.q_proj.bias"));
    Tensor kk =
        headwiseLinear(xc, *p("xlstm.k_proj.weight"), p("xlstm.k_proj.bias"));
    Tensor v =
        headwiseLinear(xm, *p("xlstm.v_proj.weight"), p("xlstm.v_proj.bias"));
    // Gates read concat(q, k, v).
    int64_t b = x.dim(0), s = x.dim(1);
    Tensor qkv({b, s, 3 * di});
    for (int64_t r = 0; r < b * s; ++r) {
      std::copy_n(&q.data[r * di], di, &qkv.data[r * 3 * di]);
      std::copy_n(&kk.data[r * di], di, &qkv.data[r * 3 * di + di]);
      std::copy_n(&v.data[r * di], di, &qkv.data[r * 3 * di + 2 * di]);
    }
    Tensor ig = linear(qkv, *p("xlstm.mlstm_cell.igate.weight"),
                       p("xlstm.mlstm_cell.igate.bias"));
    Tensor fg = linear(qkv, *p("xlstm.mlstm_cell.fgate.weight"),
                       p("xlstm.mlstm_cell.fgate.bias"));
    std::optional<MLSTMState> cellIn;
    if (st.in("C"))
      cellIn = mlstmStateIn(st);
    MLSTMState cellOut;
    Tensor h = fromHeads(mlstm(toHeads(q, nh), toHeads(kk, nh), toHeads(v, nh),
                               gatesToHeads(ig), gatesToHeads(fg),
                               /*scaleKeys=*/true, kMLSTMEps,
                               cellIn ? &*cellIn : nullptr, &cellOut));
    st.out("C") = std::move(cellOut.c);
    st.out("n") = std::move(cellOut.n);
    st.out("m") = std::move(cellOut.m);
    Tensor hn = groupLayerNorm(h, nh, p("xlstm.mlstm_cell.outnorm.weight"),
                               nullptr, kXLSTMNormEps, true);
    const Tensor &skip = *p("xlstm.learnable_skip");
    Tensor zs = silu(z);
    for (int64_t r = 0; r < b * s; ++r)
      for (int64_t i = 0; i < di; ++i)
        hn.data[r * di + i] =
            (hn.data[r * di + i] + skip.data[i] * xc.data[r * di + i]) *
            zs.data[r * di + i];
    Tensor y =
        linear(hn, *p("xlstm.proj_down.weight"), p("xlstm.proj_down.bias"));
    return setBlockResults(op, add(x, y), st);
  }

  /// (B, S, NH) -> (B, NH, S).
  static Tensor gatesToHeads(const Tensor &g) {
    int64_t b = g.dim(0), s = g.dim(1), nh = g.dim(2);
    Tensor y({b, nh, s});
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t t = 0; t < s; ++t)
        for (int64_t h = 0; h < nh; ++h)
          y.data[(bi * nh + h) * s + t] = g.data[(bi * s + t) * nh + h];
    return y;
  }

  LogicalResult evalSLSTMBlock(SLSTMBlockOp op) {
    SLSTMLayerAttr c = op.getConfig();
    auto p = params(op);
    int64_t e = c.getEmbeddingDim(), nh = c.getNumHeads(), dh = c.getHeadDim();
    int64_t k = c.getConvKernelSize();
    const Tensor &x = get(op.getInput());
    Tensor xn = groupLayerNorm(x, 1, p("xlstm_norm.weight"), nullptr,
                               kXLSTMNormEps, true);
    BlockStates st = states(op);
    Tensor xc = xn;
    if (k > 0)
      xc = silu(causalConv1d(
          xn, Tensor({e, k}, p("xlstm.conv1d.conv.weight")->data),
          p("xlstm.conv1d.conv.bias"), st.in("conv"), &st.out("conv")));
    // Upstream quirk: `fgate` is the input gate, `igate` the forget gate.
    Tensor wi = headwiseLinear(xc, *p("xlstm.fgate.weight"), nullptr);
    Tensor wf = headwiseLinear(xc, *p("xlstm.igate.weight"), nullptr);
    Tensor wz = headwiseLinear(xn, *p("xlstm.zgate.weight"), nullptr);
    Tensor wo = headwiseLinear(xn, *p("xlstm.ogate.weight"), nullptr);
    // Stored layouts (spec §b.6) to R[h, i, g, j] and b[h, g, j].
    const Tensor &rs = *p("xlstm.slstm_cell._recurrent_kernel_");
    const Tensor &bs = *p("xlstm.slstm_cell._bias_");
    Tensor r({nh, dh, 4, dh}), bias({nh, 4, dh});
    bool vanilla = c.getLayout() == SLSTMLayout::vanilla;
    for (int64_t h = 0; h < nh; ++h)
      for (int64_t g = 0; g < 4; ++g)
        for (int64_t j = 0; j < dh; ++j) {
          for (int64_t i = 0; i < dh; ++i)
            r.data[((h * dh + i) * 4 + g) * dh + j] =
                vanilla ? rs.data[(h * 4 * dh + g * dh + j) * dh + i]
                        : rs.data[(h * dh + i) * 4 * dh + g * dh + j];
          bias.data[(h * 4 + g) * dh + j] =
              vanilla ? bs.data[g * nh * dh + h * dh + j]
                      : bs.data[h * 4 * dh + g * dh + j];
        }
    // The cell state follows the conv state, if any, in spec order.
    int64_t firstCell = st.indexOf("h");
    std::optional<SLSTMState> cellIn;
    if (!st.initial.empty()) {
      cellIn.emplace();
      for (size_t i = firstCell; i < st.initial.size(); ++i)
        cellIn->push_back(*st.initial[i]);
    }
    SLSTMState cellOut;
    Tensor y = slstm(wi, wf, wz, wo, r, bias, nh,
                     c.getFunction() == SLSTMFunction::lstm,
                     cellIn ? &*cellIn : nullptr, &cellOut);
    for (auto [i, t] : llvm::enumerate(cellOut))
      st.final[firstCell + i] = std::move(t);
    Tensor out = add(x, groupLayerNorm(y, nh, p("xlstm.group_norm.weight"),
                                       nullptr, kXLSTMNormEps, true));
    if (FeedForwardAttr ffn = c.getFeedforward()) {
      int64_t pd = ffn.getProjDim();
      Tensor fn = groupLayerNorm(out, 1, p("ffn_norm.weight"), nullptr,
                                 kXLSTMNormEps, true);
      const Tensor &upW = *p("ffn.proj_up.weight");
      const Tensor *upB = p("ffn.proj_up.bias");
      Tensor gateB, valueB;
      if (upB) {
        gateB = rowSlice(*upB, 0, pd);
        valueB = rowSlice(*upB, pd, pd);
      }
      out = add(out, gatedFFN(fn, rowSlice(upW, 0, pd), rowSlice(upW, pd, pd),
                              *p("ffn.proj_down.weight"),
                              upB ? &gateB : nullptr, upB ? &valueB : nullptr,
                              p("ffn.proj_down.bias"), toAct(ffn.getAct())));
    }
    return setBlockResults(op, std::move(out), st);
  }

  LogicalResult evalLargeBlock(LargeBlockOp op) {
    LargeBlockAttr c = op.getConfig();
    auto p = params(op);
    int64_t nh = c.getNumHeads(), qk = c.getQkDim(), vd = c.getVDim();
    int64_t fd = c.getFfnDim();
    double normEps = c.getNormEps().getValueAsDouble();
    double cap = c.getGateSoftCap().getValueAsDouble();
    bool fused = c.getWeightMode() == WeightMode::fused;
    const Tensor &x = get(op.getInput());
    Tensor xn =
        rmsNorm(x, p("norm_mlstm.weight"), p("norm_mlstm.bias"), normEps);
    // Projection `name`, or rows of the fused tensor `fusedName`.
    auto project = [&](StringRef name, StringRef fusedName, int64_t offset,
                       int64_t rows) {
      if (!fused)
        return linear(xn, *p((name + ".weight").str()),
                      p((name + ".bias").str()));
      Tensor w = rowSlice(*p((fusedName + ".weight").str()), offset, rows);
      const Tensor *fb = p((fusedName + ".bias").str());
      Tensor bias = fb ? rowSlice(*fb, offset, rows) : Tensor();
      return linear(xn, w, fb ? &bias : nullptr);
    };
    StringRef qkvo = "mlstm_layer.qkv_opreact",
              ifg = "mlstm_layer.ifgate_preact";
    Tensor q = project("mlstm_layer.q", qkvo, 0, qk);
    Tensor k = project("mlstm_layer.k", qkvo, qk, qk);
    Tensor v = project("mlstm_layer.v", qkvo, 2 * qk, vd);
    Tensor o = project("mlstm_layer.ogate_preact", qkvo, 2 * qk + vd, vd);
    Tensor ig = softCap(project("mlstm_layer.igate_preact", ifg, 0, nh), cap);
    Tensor fg = softCap(project("mlstm_layer.fgate_preact", ifg, nh, nh), cap);
    BlockStates st = states(op);
    std::optional<MLSTMState> cellIn;
    if (st.in("C"))
      cellIn = mlstmStateIn(st);
    MLSTMState cellOut;
    Tensor h =
        fromHeads(mlstm(toHeads(q, nh), toHeads(k, nh), toHeads(v, nh),
                        gatesToHeads(ig), gatesToHeads(fg),
                        /*scaleKeys=*/false, c.getEps().getValueAsDouble(),
                        cellIn ? &*cellIn : nullptr, &cellOut));
    st.out("C") = std::move(cellOut.c);
    st.out("n") = std::move(cellOut.n);
    st.out("m") = std::move(cellOut.m);
    Tensor hn =
        groupLayerNorm(h, nh, p("mlstm_layer.multihead_norm.weight"),
                       p("mlstm_layer.multihead_norm.bias"), normEps, false);
    for (int64_t i = 0; i < hn.size(); ++i)
      hn.data[i] *= sigmoid(o.data[i]);
    Tensor x1 = add(x, linear(hn, *p("mlstm_layer.out_proj.weight"),
                              p("mlstm_layer.out_proj.bias")));
    Tensor xf = rmsNorm(x1, p("norm_ffn.weight"), p("norm_ffn.bias"), normEps);
    Tensor gateW, upW, gateB, upB;
    const Tensor *gb = p("ffn.proj_up_gate.bias"), *ub = p("ffn.proj_up.bias");
    if (fused) {
      const Tensor &w = *p("ffn.proj_up_gate_z.weight");
      gateW = rowSlice(w, 0, fd);
      upW = rowSlice(w, fd, fd);
      if (const Tensor *bz = p("ffn.proj_up_gate_z.bias")) {
        gateB = rowSlice(*bz, 0, fd);
        upB = rowSlice(*bz, fd, fd);
        gb = &gateB;
        ub = &upB;
      }
    } else {
      gateW = *p("ffn.proj_up_gate.weight");
      upW = *p("ffn.proj_up.weight");
    }
    Tensor f = gatedFFN(xf, gateW, upW, *p("ffn.proj_down.weight"), gb, ub,
                        p("ffn.proj_down.bias"), Act::Swish);
    return setBlockResults(op, add(x1, f), st);
  }

  llvm::DenseMap<Value, Tensor> values;
};

} // namespace

FailureOr<SmallVector<Tensor>>
xlstm::reference::evaluate(func::FuncOp function, ArrayRef<Tensor> arguments) {
  if (function.getNumArguments() != arguments.size())
    return function.emitError("reference: expected ")
           << function.getNumArguments() << " arguments, got "
           << arguments.size();
  SmallVector<Tensor> results;
  Evaluator evaluator;
  if (failed(evaluator.run(function, arguments, results)))
    return failure();
  return results;
}
