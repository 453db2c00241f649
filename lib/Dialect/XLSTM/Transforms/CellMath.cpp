//===- CellMath.cpp - Scalar math of the recurrent cells ------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Dialect/XLSTM/Transforms/CellMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>

using namespace mlir;

namespace xlstm::cellmath {

namespace {
Value constant(OpBuilder &b, Location loc, Type type, double value) {
  return arith::ConstantOp::create(b, loc, type, b.getFloatAttr(type, value));
}
} // namespace

Value sigmoid(OpBuilder &b, Location loc, Value x) {
  Value one = constant(b, loc, x.getType(), 1.0);
  Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
  return arith::DivFOp::create(b, loc, one,
                               arith::AddFOp::create(b, loc, one, e));
}

Value logSigmoid(OpBuilder &b, Location loc, Value x) {
  Value zero = constant(b, loc, x.getType(), 0.0);
  Value lo = arith::MinimumFOp::create(b, loc, x, zero);
  Value e = math::ExpOp::create(
      b, loc, arith::NegFOp::create(b, loc, math::AbsFOp::create(b, loc, x)));
  return arith::SubFOp::create(b, loc, lo, math::Log1pOp::create(b, loc, e));
}

SmallVector<Value> slstmCell(OpBuilder &b, Location loc, SLSTMFunction function,
                             ValueRange raw, ValueRange state) {
  assert(raw.size() == 4 && "four gates: i, f, z, o");
  auto add = [&](Value x, Value y) {
    return arith::AddFOp::create(b, loc, x, y).getResult();
  };
  auto mul = [&](Value x, Value y) {
    return arith::MulFOp::create(b, loc, x, y).getResult();
  };
  Value c = state[1];
  Value zAct = math::TanhOp::create(b, loc, raw[2]);
  if (function == SLSTMFunction::lstm) {
    assert(state.size() == 2 && "lstm state is (h, c)");
    Value cNew = add(mul(sigmoid(b, loc, raw[1]), c),
                     mul(sigmoid(b, loc, raw[0]), zAct));
    Value hNew =
        mul(sigmoid(b, loc, raw[3]), math::TanhOp::create(b, loc, cNew));
    return {hNew, cNew};
  }
  assert(state.size() == 4 && "slstm state is (h, c, n, m)");
  Value n = state[2], m = state[3];
  Type t = raw[0].getType();
  Value lfm = add(m, logSigmoid(b, loc, raw[1]));
  // First step (n == 0): the stabiliser starts at the input gate.
  Value first = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, n,
                                      constant(b, loc, t, 0.0));
  Value mNew = arith::SelectOp::create(
      b, loc, first, raw[0], arith::MaximumFOp::create(b, loc, raw[0], lfm));
  auto gate = [&](Value logit) {
    return arith::MinimumFOp::create(
        b, loc,
        math::ExpOp::create(b, loc, arith::SubFOp::create(b, loc, logit, mNew)),
        constant(b, loc, t, 1.0));
  };
  Value iAct = gate(raw[0]), fAct = gate(lfm);
  Value cNew = add(mul(fAct, c), mul(iAct, zAct));
  Value nNew = add(mul(fAct, n), iAct);
  Value hNew =
      arith::DivFOp::create(b, loc, mul(sigmoid(b, loc, raw[3]), cNew), nNew);
  return {hNew, cNew, nNew, mNew};
}

std::pair<double, double> qkScales(QKScaling scaling, int64_t dhqk) {
  double s = 1.0 / std::sqrt(static_cast<double>(dhqk));
  return scaling == QKScaling::key ? std::make_pair(1.0, s)
                                   : std::make_pair(s, 1.0);
}

} // namespace xlstm::cellmath
