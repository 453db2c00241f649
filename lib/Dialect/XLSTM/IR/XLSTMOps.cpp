//===- XLSTMOps.cpp - xlstm op verifiers and parameter tables -------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Dialect/XLSTM/IR/XLSTM.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace xlstm;

#define GET_OP_CLASSES
#include "xlstm/Dialect/XLSTM/IR/XLSTMOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Parameter tables (spec xlstm-architecture §c, xlstm-large-7b §6)
//===----------------------------------------------------------------------===//

namespace {
/// Appends `prefix.weight` and, when `bias`, `prefix.bias` of a linear layer.
void addLinear(SmallVector<ParamSpec> &specs, StringRef prefix, int64_t out,
               int64_t in, bool bias) {
  specs.push_back({(prefix + ".weight").str(), {out, in}});
  if (bias)
    specs.push_back({(prefix + ".bias").str(), {out}});
}
} // namespace

SmallVector<ParamSpec> xlstm::getParamSpecs(MLSTMLayerAttr c, bool everyName) {
  int64_t e = c.getEmbeddingDim(), di = c.getInnerDim(), nh = c.getNumHeads();
  int64_t bs = c.getQkvBlocksize();
  bool bias = everyName || c.getBias().getValue();
  SmallVector<ParamSpec> specs;
  specs.push_back({"xlstm_norm.weight", {e}});
  specs.push_back({"xlstm.learnable_skip", {di}});
  addLinear(specs, "xlstm.proj_up", 2 * di, e, bias);
  for (StringRef proj : {"q_proj", "k_proj", "v_proj"}) {
    specs.push_back({("xlstm." + proj + ".weight").str(), {di / bs, bs, bs}});
    if (bias)
      specs.push_back({("xlstm." + proj + ".bias").str(), {di}});
  }
  specs.push_back({"xlstm.conv1d.conv.weight", {di, 1, c.getConvKernelSize()}});
  specs.push_back({"xlstm.conv1d.conv.bias", {di}});
  addLinear(specs, "xlstm.mlstm_cell.igate", nh, 3 * di, /*bias=*/true);
  addLinear(specs, "xlstm.mlstm_cell.fgate", nh, 3 * di, /*bias=*/true);
  specs.push_back({"xlstm.mlstm_cell.outnorm.weight", {di}});
  addLinear(specs, "xlstm.proj_down", e, di, bias);
  return specs;
}

SmallVector<ParamSpec> xlstm::getParamSpecs(SLSTMLayerAttr c, bool everyName) {
  int64_t e = c.getEmbeddingDim(), nh = c.getNumHeads(), dh = c.getHeadDim();
  SmallVector<ParamSpec> specs;
  specs.push_back({"xlstm_norm.weight", {e}});
  if (everyName || c.getConvKernelSize() > 0) {
    specs.push_back(
        {"xlstm.conv1d.conv.weight", {e, 1, c.getConvKernelSize()}});
    specs.push_back({"xlstm.conv1d.conv.bias", {e}});
  }
  for (StringRef gate : {"fgate", "igate", "zgate", "ogate"})
    specs.push_back({("xlstm." + gate + ".weight").str(), {nh, dh, dh}});
  if (c.getLayout() == SLSTMLayout::vanilla)
    specs.push_back({"xlstm.slstm_cell._recurrent_kernel_", {nh, 4 * dh, dh}});
  else
    specs.push_back({"xlstm.slstm_cell._recurrent_kernel_", {nh, dh, 4 * dh}});
  specs.push_back({"xlstm.slstm_cell._bias_", {4 * e}});
  if (everyName || c.getGroupNormWeight().getValue())
    specs.push_back({"xlstm.group_norm.weight", {e}});
  FeedForwardAttr ffn = c.getFeedforward();
  if (everyName || ffn) {
    bool bias = everyName || ffn.getBias().getValue();
    int64_t proj = ffn ? ffn.getProjDim() : 0;
    specs.push_back({"ffn_norm.weight", {e}});
    addLinear(specs, "ffn.proj_up", 2 * proj, e, bias);
    addLinear(specs, "ffn.proj_down", e, proj, bias);
  }
  return specs;
}

SmallVector<ParamSpec> xlstm::getParamSpecs(LargeBlockAttr c, bool everyName) {
  int64_t e = c.getEmbeddingDim(), nh = c.getNumHeads(), qk = c.getQkDim();
  int64_t v = c.getVDim(), f = c.getFfnDim();
  bool bias = everyName || c.getUseBias().getValue();
  bool fused = c.getWeightMode() == WeightMode::fused;
  // Both weight modes' names for everyName.
  bool single = everyName || !fused;
  fused = everyName || fused;
  SmallVector<ParamSpec> specs;
  auto addNorm = [&](StringRef prefix, int64_t dim) {
    specs.push_back({(prefix + ".weight").str(), {dim}});
    if (bias)
      specs.push_back({(prefix + ".bias").str(), {dim}});
  };
  addNorm("norm_mlstm", e);
  if (fused) {
    addLinear(specs, "mlstm_layer.qkv_opreact", 2 * qk + 2 * v, e, bias);
    addLinear(specs, "mlstm_layer.ifgate_preact", 2 * nh, e, /*bias=*/true);
  }
  if (single) {
    addLinear(specs, "mlstm_layer.q", qk, e, bias);
    addLinear(specs, "mlstm_layer.k", qk, e, bias);
    addLinear(specs, "mlstm_layer.v", v, e, bias);
    addLinear(specs, "mlstm_layer.ogate_preact", v, e, bias);
    addLinear(specs, "mlstm_layer.igate_preact", nh, e, /*bias=*/true);
    addLinear(specs, "mlstm_layer.fgate_preact", nh, e, /*bias=*/true);
  }
  addNorm("mlstm_layer.multihead_norm", v);
  addLinear(specs, "mlstm_layer.out_proj", e, v, bias);
  addNorm("norm_ffn", e);
  if (fused) {
    addLinear(specs, "ffn.proj_up_gate_z", 2 * f, e, bias);
  }
  if (single) {
    addLinear(specs, "ffn.proj_up_gate", f, e, bias);
    addLinear(specs, "ffn.proj_up", f, e, bias);
  }
  addLinear(specs, "ffn.proj_down", e, f, bias);
  return specs;
}

SmallVector<ParamSpec> xlstm::getStateSpecs(MLSTMLayerAttr c) {
  int64_t b = ShapedType::kDynamic, di = c.getInnerDim();
  int64_t nh = c.getNumHeads(), dh = c.getHeadDim();
  return {{"conv", {b, c.getConvKernelSize() - 1, di}},
          {"C", {b, nh, dh, dh}},
          {"n", {b, nh, dh}},
          {"m", {b, nh}}};
}

SmallVector<ParamSpec> xlstm::getStateSpecs(SLSTMLayerAttr c) {
  int64_t b = ShapedType::kDynamic, e = c.getEmbeddingDim();
  SmallVector<ParamSpec> specs;
  if (c.getConvKernelSize() > 0)
    specs.push_back({"conv", {b, c.getConvKernelSize() - 1, e}});
  specs.push_back({"h", {b, e}});
  specs.push_back({"c", {b, e}});
  if (c.getFunction() == SLSTMFunction::slstm) {
    specs.push_back({"n", {b, e}});
    specs.push_back({"m", {b, e}});
  }
  return specs;
}

SmallVector<ParamSpec> xlstm::getStateSpecs(LargeBlockAttr c) {
  int64_t b = ShapedType::kDynamic, nh = c.getNumHeads();
  int64_t dqk = c.getQKHeadDim(), dv = c.getVHeadDim();
  return {{"C", {b, nh, dqk, dv}}, {"n", {b, nh, dqk}}, {"m", {b, nh}}};
}

//===----------------------------------------------------------------------===//
// Shape checking helpers
//===----------------------------------------------------------------------===//

namespace {
constexpr int64_t kDyn = ShapedType::kDynamic;

bool dimsMatch(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s = "(";
  llvm::raw_string_ostream os(s);
  llvm::interleave(
      shape, os,
      [&](int64_t d) {
        if (ShapedType::isDynamic(d))
          os << "?";
        else
          os << d;
      },
      ", ");
  return s + ")";
}

/// Checks that `value` is a tensor of `expected` shape (kDyn matches any
/// size); `what` names the operand in the message.
LogicalResult checkShape(Operation *op, StringRef what, Value value,
                         ArrayRef<int64_t> expected) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.getRank() == static_cast<int64_t>(expected.size()) &&
      llvm::all_of(llvm::zip(type.getShape(), expected), [](auto pair) {
        return dimsMatch(std::get<0>(pair), std::get<1>(pair));
      }))
    return success();
  return op->emitOpError() << what << " must have shape "
                           << shapeString(expected) << ", got " << type;
}

/// Checks the rank of `value`; `layout` spells the dimensions for the user.
LogicalResult checkRank(Operation *op, StringRef what, Value value,
                        int64_t rank, StringRef layout) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.getRank() == rank)
    return success();
  return op->emitOpError() << what << " must be a rank-" << rank << " tensor "
                           << layout << ", got " << type;
}

int64_t dim(Value value, unsigned i) {
  return cast<RankedTensorType>(value.getType()).getDimSize(i);
}
int64_t lastDim(Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  return type.getDimSize(type.getRank() - 1);
}

/// Checks state tensors (all or none) against `specs` with batch `b`.
LogicalResult verifyStates(Operation *op, StringRef what, ValueRange states,
                           ArrayRef<ParamSpec> specs, int64_t b) {
  if (states.empty())
    return success();
  if (states.size() != specs.size())
    return op->emitOpError() << "expects 0 or " << specs.size() << " " << what
                             << " tensors, got " << states.size();
  // The cell state is one recurrence: its tensors share an element type
  // (the conv state holds past activations and may differ).
  Type cellType;
  for (auto [state, spec] : llvm::zip(states, specs)) {
    if (spec.name == "conv")
      continue;
    Type elt = cast<RankedTensorType>(state.getType()).getElementType();
    if (cellType && elt != cellType)
      return op->emitOpError() << what << " tensors must share one element "
                               << "type, got " << cellType << " and " << elt;
    cellType = elt;
  }
  for (auto [state, spec] : llvm::zip(states, specs)) {
    SmallVector<int64_t> shape = llvm::to_vector(spec.shape);
    shape[0] = b;
    if (failed(checkShape(op, (what + " '" + spec.name + "'").str(), state,
                          shape)))
      return failure();
  }
  return success();
}

/// Checks a block op's input `(B, S, E)` and its parameters against `specs`.
LogicalResult verifyBlock(Operation *op, Value input, ValueRange params,
                          ArrayRef<ParamSpec> specs, int64_t embeddingDim) {
  // The width must be static: the expansion builds fixed-width tensors.
  auto inputType = cast<RankedTensorType>(input.getType());
  if (inputType.getRank() != 3 || inputType.getDimSize(2) != embeddingDim)
    return op->emitOpError() << "input must have shape (?, ?, " << embeddingDim
                             << "), got " << inputType;
  if (failed(checkShape(op, "input", input, {kDyn, kDyn, embeddingDim})))
    return failure();
  if (params.size() != specs.size())
    return op->emitOpError()
           << "expects " << specs.size() << " parameters for its config, got "
           << params.size();
  for (auto [i, param, spec] : llvm::enumerate(params, specs)) {
    auto type = cast<RankedTensorType>(param.getType());
    if (type.getShape() != ArrayRef<int64_t>(spec.shape))
      return op->emitOpError()
             << "parameter #" << i << " '" << spec.name << "' must have shape "
             << shapeString(spec.shape) << ", got " << type;
  }
  return success();
}

template <typename BlockOpT>
LogicalResult verifyBlockWithState(BlockOpT op, int64_t embeddingDim) {
  if (failed(verifyBlock(op, op.getInput(), op.getParams(), op.getParamSpecs(),
                         embeddingDim)))
    return failure();
  SmallVector<ParamSpec> states = op.getStateSpecs();
  int64_t b = dim(op.getInput(), 0);
  return failure(
      failed(verifyStates(op, "state", op.getState(), states, b)) ||
      failed(verifyStates(op, "final state", op.getFinalState(), states, b)));
}

/// The operand named `name`; null when it is a parameter other
/// configurations of this block kind have but this one does not (a bias,
/// say). A name no configuration has is a bug in the caller: it fails
/// loudly instead of reading as an absent optional parameter.
template <typename BlockOpT> Value lookupParam(BlockOpT op, StringRef name) {
  for (auto [spec, value] : llvm::zip(op.getParamSpecs(), op.getParams()))
    if (spec.name == name)
      return value;
  for (const ParamSpec &spec :
       xlstm::getParamSpecs(op.getConfig(), /*everyName=*/true))
    if (spec.name == name)
      return {};
  llvm::report_fatal_error(
      Twine("internal error: '") + op->getName().getStringRef() +
      "' has no parameter named '" + name + "' in any configuration");
}
} // namespace

//===----------------------------------------------------------------------===//
// Block ops
//===----------------------------------------------------------------------===//

SmallVector<ParamSpec> MLSTMBlockOp::getParamSpecs() {
  return xlstm::getParamSpecs(getConfig());
}
Value MLSTMBlockOp::getParam(StringRef name) {
  return lookupParam(*this, name);
}
SmallVector<ParamSpec> MLSTMBlockOp::getStateSpecs() {
  return xlstm::getStateSpecs(getConfig());
}
LogicalResult MLSTMBlockOp::verify() {
  return verifyBlockWithState(*this, getConfig().getEmbeddingDim());
}

SmallVector<ParamSpec> SLSTMBlockOp::getParamSpecs() {
  return xlstm::getParamSpecs(getConfig());
}
Value SLSTMBlockOp::getParam(StringRef name) {
  return lookupParam(*this, name);
}
SmallVector<ParamSpec> SLSTMBlockOp::getStateSpecs() {
  return xlstm::getStateSpecs(getConfig());
}
LogicalResult SLSTMBlockOp::verify() {
  return verifyBlockWithState(*this, getConfig().getEmbeddingDim());
}

SmallVector<ParamSpec> LargeBlockOp::getParamSpecs() {
  return xlstm::getParamSpecs(getConfig());
}
Value LargeBlockOp::getParam(StringRef name) {
  return lookupParam(*this, name);
}
SmallVector<ParamSpec> LargeBlockOp::getStateSpecs() {
  return xlstm::getStateSpecs(getConfig());
}
LogicalResult LargeBlockOp::verify() {
  return verifyBlockWithState(*this, getConfig().getEmbeddingDim());
}

LogicalResult EmbeddingOp::verify() {
  if (failed(checkRank(*this, "tokens", getTokens(), 2, "(batch, seq)")) ||
      failed(checkRank(*this, "table", getTable(), 2, "(vocab, embedding)")))
    return failure();
  if (failed(checkShape(
          *this, "result", getResult(),
          {dim(getTokens(), 0), dim(getTokens(), 1), dim(getTable(), 1)})))
    return failure();
  return success();
}

LogicalResult LMHeadOp::verify() {
  if (failed(checkRank(*this, "input", getInput(), 3,
                       "(batch, seq, embedding)")) ||
      failed(checkShape(*this, "weight", getWeight(),
                        {kDyn, lastDim(getInput())})) ||
      failed(checkShape(
          *this, "result", getResult(),
          {dim(getInput(), 0), dim(getInput(), 1), dim(getWeight(), 0)})))
    return failure();
  if (getResult().getType().getElementType().getIntOrFloatBitWidth() <
      getInput().getType().getElementType().getIntOrFloatBitWidth())
    return emitOpError("result element type must be at least as wide as the "
                       "input's (logits are not narrowed)");
  return success();
}

//===----------------------------------------------------------------------===//
// Recurrences
//===----------------------------------------------------------------------===//

LogicalResult MLSTMOp::verify() {
  if (failed(checkRank(*this, "q", getQ(), 4, "(batch, heads, seq, dhqk)")) ||
      failed(checkRank(*this, "v", getV(), 4, "(batch, heads, seq, dhv)")))
    return failure();
  int64_t b = dim(getQ(), 0), nh = dim(getQ(), 1), s = dim(getQ(), 2);
  int64_t dqk = dim(getQ(), 3), dv = dim(getV(), 3);
  if (failed(checkShape(*this, "k", getK(), {b, nh, s, dqk})) ||
      failed(checkShape(*this, "v", getV(), {b, nh, s, dv})) ||
      failed(checkShape(*this, "igate", getIgate(), {b, nh, s})) ||
      failed(checkShape(*this, "fgate", getFgate(), {b, nh, s})) ||
      failed(checkShape(*this, "h", getH(), {b, nh, s, dv})))
    return failure();
  SmallVector<SmallVector<int64_t>> stateShapes = {
      {b, nh, dqk, dv}, {b, nh, dqk}, {b, nh}};
  static constexpr StringRef names[] = {"C", "n", "m"};
  for (auto [what, states] :
       {std::pair<StringRef, ValueRange>{"initial", getInitialState()},
        {"final", getFinalState()}}) {
    if (states.empty())
      continue;
    if (states.size() != 3)
      return emitOpError() << "expects 0 or 3 " << what
                           << " state tensors (C, n, m), got " << states.size();
    for (auto [i, state] : llvm::enumerate(states))
      if (failed(checkShape(*this, (what + " state " + names[i]).str(), state,
                            stateShapes[i])))
        return failure();
  }
  return success();
}

LogicalResult SLSTMOp::verify() {
  if (failed(checkRank(*this, "igate", getIgate(), 3, "(batch, seq, hidden)")))
    return failure();
  int64_t b = dim(getIgate(), 0), s = dim(getIgate(), 1),
          h = dim(getIgate(), 2);
  int64_t nh = getNumHeads();
  if (ShapedType::isDynamic(h))
    return emitOpError("hidden size must be static");
  if (h % nh != 0)
    return emitOpError() << "num_heads (" << nh
                         << ") must divide the hidden size (" << h << ")";
  int64_t dh = h / nh;
  if (failed(checkShape(*this, "fgate", getFgate(), {b, s, h})) ||
      failed(checkShape(*this, "zgate", getZgate(), {b, s, h})) ||
      failed(checkShape(*this, "ogate", getOgate(), {b, s, h})) ||
      failed(checkShape(*this, "recurrent_kernel", getRecurrentKernel(),
                        {nh, dh, 4, dh})) ||
      failed(checkShape(*this, "bias", getBias(), {nh, 4, dh})) ||
      failed(checkShape(*this, "y", getY(), {b, s, h})))
    return failure();
  int64_t numStates = getNumStates();
  for (auto [what, states] :
       {std::pair<StringRef, ValueRange>{"initial", getInitialState()},
        {"final", getFinalState()}}) {
    if (states.empty())
      continue;
    if (static_cast<int64_t>(states.size()) != numStates)
      return emitOpError() << "expects 0 or " << numStates << " " << what
                           << " state tensors for function "
                           << stringifySLSTMFunction(getFunction()) << ", got "
                           << states.size();
    for (Value state : states)
      if (failed(checkShape(*this, (what + " state").str(), state, {b, h})))
        return failure();
  }
  return success();
}

LogicalResult SLSTMStepOp::verify() {
  if (failed(checkRank(*this, "igate", getIgate(), 2, "(batch, hidden)")))
    return failure();
  int64_t b = dim(getIgate(), 0), h = dim(getIgate(), 1);
  int64_t nh = getNumHeads();
  if (ShapedType::isDynamic(h) || h % nh != 0)
    return emitOpError() << "num_heads (" << nh
                         << ") must divide the static hidden size, got "
                         << getIgate().getType();
  int64_t dh = h / nh;
  if (failed(checkShape(*this, "fgate", getFgate(), {b, h})) ||
      failed(checkShape(*this, "zgate", getZgate(), {b, h})) ||
      failed(checkShape(*this, "ogate", getOgate(), {b, h})) ||
      failed(checkShape(*this, "recurrent_kernel", getRecurrentKernel(),
                        {nh, dh, 4, dh})) ||
      failed(checkShape(*this, "bias", getBias(), {nh, 4, dh})))
    return failure();
  int64_t numStates = getNumStates();
  if (static_cast<int64_t>(getState().size()) != numStates ||
      static_cast<int64_t>(getNewState().size()) != numStates)
    return emitOpError() << "expects " << numStates
                         << " state tensors in and out for function "
                         << stringifySLSTMFunction(getFunction()) << ", got "
                         << getState().size() << " and "
                         << getNewState().size();
  for (Value v : llvm::concat<Value>(getState(), getNewState()))
    if (failed(checkShape(*this, "state", v, {b, h})))
      return failure();
  return success();
}

namespace {
/// ceil(s / chunk), or dynamic when s is.
int64_t numChunks(int64_t s, int64_t chunk) {
  // (s + chunk - 1) / chunk would overflow for huge chunk sizes.
  return ShapedType::isDynamic(s) ? ShapedType::kDynamic
                                  : s / chunk + (s % chunk != 0);
}
} // namespace

LogicalResult MLSTMChunkStatesOp::verify() {
  if (failed(checkRank(*this, "k", getK(), 4, "(batch, heads, seq, dhqk)")) ||
      failed(checkRank(*this, "v", getV(), 4, "(batch, heads, seq, dhv)")))
    return failure();
  int64_t b = dim(getK(), 0), nh = dim(getK(), 1), s = dim(getK(), 2);
  int64_t dqk = dim(getK(), 3), dv = dim(getV(), 3);
  int64_t nc = numChunks(s, getChunkSize());
  if (failed(checkShape(*this, "v", getV(), {b, nh, s, dv})) ||
      failed(checkShape(*this, "igate", getIgate(), {b, nh, s})) ||
      failed(checkShape(*this, "fgate", getFgate(), {b, nh, s})) ||
      failed(checkShape(*this, "chunk_c", getChunkC(), {b, nh, nc, dqk, dv})) ||
      failed(checkShape(*this, "chunk_n", getChunkN(), {b, nh, nc, dqk})) ||
      failed(checkShape(*this, "chunk_m", getChunkM(), {b, nh, nc})) ||
      failed(checkShape(*this, "final_c", getFinalC(), {b, nh, dqk, dv})) ||
      failed(checkShape(*this, "final_n", getFinalN(), {b, nh, dqk})) ||
      failed(checkShape(*this, "final_m", getFinalM(), {b, nh})))
    return failure();
  ValueRange init = getInitialState();
  if (init.empty())
    return success();
  if (init.size() != 3)
    return emitOpError()
           << "expects 0 or 3 initial state tensors (C, n, m), got "
           << init.size();
  if (failed(checkShape(*this, "initial state C", init[0], {b, nh, dqk, dv})) ||
      failed(checkShape(*this, "initial state n", init[1], {b, nh, dqk})) ||
      failed(checkShape(*this, "initial state m", init[2], {b, nh})))
    return failure();
  return success();
}

LogicalResult MLSTMChunkOutputsOp::verify() {
  if (failed(checkRank(*this, "q", getQ(), 4, "(batch, heads, seq, dhqk)")) ||
      failed(checkRank(*this, "v", getV(), 4, "(batch, heads, seq, dhv)")))
    return failure();
  int64_t b = dim(getQ(), 0), nh = dim(getQ(), 1), s = dim(getQ(), 2);
  int64_t dqk = dim(getQ(), 3), dv = dim(getV(), 3);
  int64_t nc = numChunks(s, getChunkSize());
  if (failed(checkShape(*this, "k", getK(), {b, nh, s, dqk})) ||
      failed(checkShape(*this, "v", getV(), {b, nh, s, dv})) ||
      failed(checkShape(*this, "igate", getIgate(), {b, nh, s})) ||
      failed(checkShape(*this, "fgate", getFgate(), {b, nh, s})) ||
      failed(checkShape(*this, "chunk_c", getChunkC(), {b, nh, nc, dqk, dv})) ||
      failed(checkShape(*this, "chunk_n", getChunkN(), {b, nh, nc, dqk})) ||
      failed(checkShape(*this, "chunk_m", getChunkM(), {b, nh, nc})) ||
      failed(checkShape(*this, "h", getH(), {b, nh, s, dv})))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Primitives
//===----------------------------------------------------------------------===//

LogicalResult CausalConv1dOp::verify() {
  if (failed(
          checkRank(*this, "input", getInput(), 3, "(batch, seq, channels)")) ||
      failed(checkRank(*this, "weight", getWeight(), 2, "(channels, kernel)")))
    return failure();
  int64_t d = lastDim(getInput());
  if (failed(checkShape(*this, "weight", getWeight(), {d, kDyn})))
    return failure();
  if (dim(getWeight(), 1) == 0)
    return emitOpError("kernel width must be at least 1");
  if (getBias() && failed(checkShape(*this, "bias", getBias(), {d})))
    return failure();
  int64_t k = dim(getWeight(), 1);
  SmallVector<int64_t> stateShape = {
      dim(getInput(), 0), ShapedType::isDynamic(k) ? kDyn : k - 1, d};
  if (getInitialState() &&
      failed(checkShape(*this, "initial_state", getInitialState(), stateShape)))
    return failure();
  if (getFinalState() &&
      failed(checkShape(*this, "final_state", getFinalState(), stateShape)))
    return failure();
  return success();
}

LogicalResult HeadwiseLinearOp::verify() {
  if (failed(checkRank(*this, "weight", getWeight(), 3,
                       "(blocks, out_per_block, in_per_block)")))
    return failure();
  auto inType = getInput().getType();
  auto outType = getResult().getType();
  int64_t nb = dim(getWeight(), 0), o = dim(getWeight(), 1);
  int64_t i = dim(getWeight(), 2);
  if (inType.getRank() < 1 || outType.getRank() != inType.getRank())
    return emitOpError("result must have the rank of the input");
  // The block structure is only checkable with a static weight.
  if (ShapedType::isDynamic(nb) || ShapedType::isDynamic(o) ||
      ShapedType::isDynamic(i))
    return emitOpError() << "weight must have a static shape, got "
                         << getWeight().getType();
  if (!dimsMatch(lastDim(getInput()), nb * i))
    return emitOpError() << "input width must be blocks * in_per_block = "
                         << nb * i << ", got " << inType;
  SmallVector<int64_t> expected(inType.getShape());
  expected.back() = nb * o;
  if (failed(checkShape(*this, "result", getResult(), expected)))
    return failure();
  if (getBias() && failed(checkShape(*this, "bias", getBias(), {nb * o})))
    return failure();
  return success();
}

namespace {
/// Weight and bias of a norm are per-channel vectors over the last dim.
LogicalResult verifyNormAffine(Operation *op, Value input, Value weight,
                               Value bias) {
  if (cast<RankedTensorType>(input.getType()).getRank() < 1)
    return op->emitOpError("input must have at least one dimension");
  int64_t width = lastDim(input);
  if (weight && failed(checkShape(op, "weight", weight, {width})))
    return failure();
  if (bias && failed(checkShape(op, "bias", bias, {width})))
    return failure();
  return success();
}
} // namespace

LogicalResult LayerNormOp::verify() {
  return verifyNormAffine(*this, getInput(), getWeight(), getBias());
}

LogicalResult RMSNormOp::verify() {
  return verifyNormAffine(*this, getInput(), getWeight(), getBias());
}

LogicalResult MultiHeadNormOp::verify() {
  int64_t width = lastDim(getInput());
  if (ShapedType::isDynamic(width) || width % getNumHeads() != 0)
    return emitOpError() << "num_heads (" << getNumHeads()
                         << ") must divide the static last dimension, got "
                         << getInput().getType();
  return verifyNormAffine(*this, getInput(), getWeight(), getBias());
}

LogicalResult GatedFFNOp::verify() {
  if (getInput().getType().getRank() < 1)
    return emitOpError("input must have at least one dimension");
  int64_t e = lastDim(getInput());
  if (failed(checkRank(*this, "gate_weight", getGateWeight(), 2,
                       "(proj, embedding)")))
    return failure();
  int64_t p = dim(getGateWeight(), 0);
  if (failed(checkShape(*this, "gate_weight", getGateWeight(), {p, e})) ||
      failed(checkShape(*this, "up_weight", getUpWeight(), {p, e})) ||
      failed(checkShape(*this, "down_weight", getDownWeight(), {e, p})))
    return failure();
  int numBiases = !!getGateBias() + !!getUpBias() + !!getDownBias();
  if (numBiases == 0)
    return success();
  if (numBiases != 3)
    return emitOpError("expects all three biases or none");
  if (failed(checkShape(*this, "gate_bias", getGateBias(), {p})) ||
      failed(checkShape(*this, "up_bias", getUpBias(), {p})) ||
      failed(checkShape(*this, "down_bias", getDownBias(), {e})))
    return failure();
  return success();
}
