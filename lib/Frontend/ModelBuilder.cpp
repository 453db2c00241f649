//===- ModelBuilder.cpp - ModelSpec to graph-level xlstm IR ---------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Frontend/ModelBuilder.h"
#include "xlstm/Config/ConfigParser.h"
#include "xlstm/Dialect/XLSTM/IR/XLSTM.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"

using namespace mlir;
using namespace xlstm;
using namespace xlstm::config;

namespace {


Activation toActivation(ActFn fn) {
  switch (fn) {
  case ActFn::Gelu:
    return Activation::gelu;
  case ActFn::Relu:
    return Activation::relu;
  case ActFn::ReluSquared:
    return Activation::relu_squared;
  case ActFn::Sigmoid:
    return Activation::sigmoid;
  case ActFn::Swish:
    return Activation::swish;
  case ActFn::Selu:
    return Activation::selu;
  }
  llvm_unreachable("unknown activation");
}

/// Collects the parameter table first (names in state_dict order), then
/// creates @forward and emits the body looking arguments up by name.
class ModelBuilder {
public:
  ModelBuilder(MLIRContext &ctx, const ModelSpec &spec,
               const ModelBuildOptions &options)
      : ctx(ctx), b(&ctx), spec(spec), loc(UnknownLoc::get(&ctx)) {
    elementType = options.dtype == ModelDType::BF16 ? Type(b.getBF16Type())
                                                    : Type(b.getF32Type());
    residualType = options.float32Residual ? Type(b.getF32Type()) : elementType;
    if (!spec.sourceName.empty())
      loc = FileLineColLoc::get(&ctx, spec.sourceName, 1, 1);
  }

  OwningOpRef<ModuleOp> build() {
    collectBlockConfigs();
    collectParams();
    OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
    (*module)->setAttr(kModelAttrName, b.getStringAttr(modelName()));
    (*module)->setAttr(kConfigAttrName, b.getStringAttr(configText()));
    b.setInsertionPointToEnd(module->getBody());
    createFunction("forward", FunctionKind::Forward);
    // Generation's prefill needs the logits of the last position only: the
    // head on one row per sequence instead of the whole prompt.
    if (spec.hasTokens())
      createFunction("prefill", FunctionKind::Prefill);
    createFunction("step", FunctionKind::Step);
    return module;
  }

private:
  /// The resolved config without its comment lines (derived fields).
  std::string configText() const {
    std::string full, compact;
    llvm::raw_string_ostream os(full);
    config::printModelSpec(spec, os);
    for (StringRef line : llvm::split(full, '\n'))
      if (!line.trim().empty() && !line.trim().starts_with("#"))
        compact += line.str() + "\n";
    return compact;
  }

  struct Param {
    std::string name;
    SmallVector<int64_t, 3> shape;
    SmallVector<std::string> aliases;
  };

  StringRef modelName() const {
    switch (spec.family) {
    case ModelFamily::BlockStack:
      return "xLSTMBlockStack";
    case ModelFamily::LMModel:
      return "xLSTMLMModel";
    case ModelFamily::Large:
      return "xLSTMLarge";
    }
    llvm_unreachable("unknown family");
  }

  std::string stackPrefix() const {
    return spec.family == ModelFamily::LMModel ? "xlstm_block_stack." : "";
  }
  std::string blockPrefix(int64_t i) const {
    if (spec.isLarge())
      return "backbone.blocks." + std::to_string(i) + ".";
    return stackPrefix() + "blocks." + std::to_string(i) + ".";
  }

  void addParam(std::string name, ArrayRef<int64_t> shape,
                ArrayRef<std::string> aliases = {}) {
    params.push_back({std::move(name), SmallVector<int64_t, 3>(shape),
                      SmallVector<std::string>(aliases)});
  }

  void collectBlockConfigs() {
    BoolAttr f = b.getBoolAttr(false), t = b.getBoolAttr(true);
    auto boolAttr = [&](bool v) { return v ? t : f; };
    for (int64_t i = 0, e = spec.numBlocks(); i < e; ++i) {
      if (spec.isLarge()) {
        const LargeConfig &c = spec.large;
        blockConfigs.push_back(LargeBlockAttr::get(
            &ctx, c.embeddingDim, c.numHeads, c.qkDim, c.vDim, c.ffnDim,
            boolAttr(c.useBias), b.getF64FloatAttr(c.normEps),
            b.getF64FloatAttr(c.eps), b.getF64FloatAttr(c.gateSoftCap),
            c.weightMode == "fused" ? WeightMode::fused : WeightMode::single));
        continue;
      }
      if (spec.blockKind(i) == BlockKind::MLSTM) {
        const MLSTMLayerConfig &m = spec.stack.mlstmBlock->mlstm;
        blockConfigs.push_back(MLSTMLayerAttr::get(
            &ctx, m.embeddingDim, m.innerEmbeddingDim, m.numHeads,
            m.conv1dKernelSize, m.qkvProjBlocksize, boolAttr(m.bias)));
        continue;
      }
      const SLSTMBlockConfig &sb = *spec.stack.slstmBlock;
      const SLSTMLayerConfig &s = sb.slstm;
      FeedForwardAttr ffn;
      if (sb.feedforward)
        ffn = FeedForwardAttr::get(&ctx, sb.feedforward->projUpDim,
                                   toActivation(sb.feedforward->actFn),
                                   boolAttr(sb.feedforward->bias));
      blockConfigs.push_back(SLSTMLayerAttr::get(
          &ctx, s.embeddingDim, s.numHeads, s.conv1dKernelSize,
          boolAttr(s.groupNormWeight),
          s.backend == SLSTMBackend::Vanilla ? SLSTMLayout::vanilla
                                             : SLSTMLayout::cuda,
          s.function == config::SLSTMFunction::SLSTM
              ? xlstm::SLSTMFunction::slstm
              : xlstm::SLSTMFunction::lstm,
          ffn));
    }
  }

  static SmallVector<ParamSpec> blockStateSpecs(Attribute config) {
    if (auto m = dyn_cast<MLSTMLayerAttr>(config))
      return getStateSpecs(m);
    if (auto s = dyn_cast<SLSTMLayerAttr>(config))
      return getStateSpecs(s);
    return getStateSpecs(cast<LargeBlockAttr>(config));
  }

  static SmallVector<ParamSpec> blockParamSpecs(Attribute config) {
    if (auto m = dyn_cast<MLSTMLayerAttr>(config))
      return getParamSpecs(m);
    if (auto s = dyn_cast<SLSTMLayerAttr>(config))
      return getParamSpecs(s);
    return getParamSpecs(cast<LargeBlockAttr>(config));
  }

  /// The checkpoint tensors in state_dict order (spec §c.1, 7B §6.1).
  void collectParams() {
    int64_t e = spec.embeddingDim();
    if (spec.isLarge())
      addParam("embedding.weight", {spec.large.vocabSize, e});
    for (auto [i, config] : llvm::enumerate(blockConfigs))
      for (const ParamSpec &p : blockParamSpecs(config))
        addParam(blockPrefix(i) + p.name, p.shape);
    if (spec.isLarge()) {
      if (spec.large.addOutNorm) {
        addParam("backbone.out_norm.weight", {e});
        if (spec.large.useBias)
          addParam("backbone.out_norm.bias", {e});
      }
      addParam("lm_head.weight", {spec.large.vocabSize, e});
      return;
    }
    if (spec.stack.addPostBlocksNorm)
      addParam(stackPrefix() + "post_blocks_norm.weight", {e});
    if (spec.family == ModelFamily::LMModel) {
      int64_t v = spec.stack.vocabSize;
      // Tied weights are one tensor under two names (spec §c.1).
      if (spec.stack.tieWeights) {
        addParam("token_embedding.weight", {v, e}, {"lm_head.weight"});
      } else {
        addParam("token_embedding.weight", {v, e});
        addParam("lm_head.weight", {v, e});
      }
    }
  }

  Value param(StringRef name) {
    auto it = argIndex.find(name);
    return it == argIndex.end() ? Value() : fn.getArgument(it->second);
  }

  /// Types of the recurrent state of every block, in order: the conv state
  /// holds past activations (model dtype), cell states are float32.
  SmallVector<std::pair<std::string, Type>> stateTypes() {
    SmallVector<std::pair<std::string, Type>> types;
    for (auto [i, config] : llvm::enumerate(blockConfigs))
      for (const ParamSpec &s : blockStateSpecs(config))
        types.push_back(
            {"blocks." + std::to_string(i) + "." + s.name,
             RankedTensorType::get(s.shape, s.name == "conv"
                                                ? elementType
                                                : Type(b.getF32Type()))});
    return types;
  }

  enum class FunctionKind { Forward, Prefill, Step };

  /// @forward: (input, params) -> (output, final state), from a zero state.
  /// @prefill: the same with the logits of the last position only.
  /// @step: (input of one position, params, state) -> (output, new state).
  void createFunction(StringRef name, FunctionKind kind) {
    bool isStep = kind == FunctionKind::Step;
    bool lastOnly = kind == FunctionKind::Prefill;
    int64_t e = spec.embeddingDim();
    int64_t dyn = ShapedType::kDynamic, seq = isStep ? 1 : dyn;
    // The residual stream: what blocks take and return.
    auto actType = RankedTensorType::get({dyn, seq, e}, residualType);
    Type inputType =
        spec.hasTokens()
            ? Type(RankedTensorType::get({dyn, seq}, b.getI64Type()))
            : Type(actType);
    Type resultType = actType;
    int64_t vocab = spec.vocabSize();
    if (spec.hasTokens())
      resultType = RankedTensorType::get({dyn, lastOnly ? 1 : seq, vocab},
                                         residualType);
    SmallVector<std::pair<std::string, Type>> states = stateTypes();

    SmallVector<Type> argTypes = {inputType}, resultTypes = {resultType};
    for (const Param &p : params)
      argTypes.push_back(RankedTensorType::get(p.shape, elementType));
    for (auto &[stateName, type] : states) {
      if (isStep)
        argTypes.push_back(type);
      resultTypes.push_back(type);
    }
    fn = func::FuncOp::create(b, loc, name,
                              b.getFunctionType(argTypes, resultTypes));
    // All argument and result attributes at once: setting them one by one
    // rebuilds the function's attribute arrays each time, quadratic in the
    // number of blocks (2048 blocks took minutes).
    SmallVector<NamedAttrList> argAttrs(argTypes.size()),
        resultAttrs(resultTypes.size());
    argAttrs[0].set(kInputAttrName,
                    b.getStringAttr(spec.hasTokens() ? "tokens" : "x"));
    for (auto [i, p] : llvm::enumerate(params)) {
      argAttrs[i + 1].set(kParamAttrName, b.getStringAttr(p.name));
      if (!p.aliases.empty())
        argAttrs[i + 1].set(kAliasesAttrName,
                            b.getStrArrayAttr(SmallVector<StringRef>(
                                p.aliases.begin(), p.aliases.end())));
      argIndex[p.name] = i + 1;
    }
    resultAttrs[0].set(kOutputAttrName,
                       b.getStringAttr(spec.hasTokens() ? "logits" : "y"));
    for (auto [i, state] : llvm::enumerate(states)) {
      StringAttr stateName = b.getStringAttr(state.first);
      if (isStep)
        argAttrs[params.size() + 1 + i].set(kStateAttrName, stateName);
      resultAttrs[i + 1].set(kStateAttrName, stateName);
    }
    auto dictionaries = [&](ArrayRef<NamedAttrList> lists) {
      return llvm::to_vector(
          llvm::map_range(lists, [&](const NamedAttrList &l) {
            return l.getDictionary(&ctx);
          }));
    };
    fn.setAllArgAttrs(dictionaries(argAttrs));
    fn.setAllResultAttrs(dictionaries(resultAttrs));

    Block *body = fn.addEntryBlock();
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(body);
    Value x = fn.getArgument(0);
    if (spec.hasTokens()) {
      StringRef table =
          spec.isLarge() ? "embedding.weight" : "token_embedding.weight";
      x = EmbeddingOp::create(b, named("embedding"), actType, x, param(table));
    }
    ValueRange stateArgs =
        isStep ? fn.getArguments().drop_front(params.size() + 1) : ValueRange();
    SmallVector<Value> finalStates;
    size_t nextState = 0;
    for (auto [i, config] : llvm::enumerate(blockConfigs)) {
      SmallVector<Value> operands;
      for (const ParamSpec &p : blockParamSpecs(config))
        operands.push_back(param(blockPrefix(i) + p.name));
      size_t numStates = blockStateSpecs(config).size();
      SmallVector<Type> finalTypes;
      for (size_t k = 0; k < numStates; ++k)
        finalTypes.push_back(states[nextState + k].second);
      ValueRange initial =
          isStep ? stateArgs.slice(nextState, numStates) : ValueRange();
      nextState += numStates;
      Operation *block;
      // Named after the block, so that every kernel it becomes says so.
      Location blockLoc = named(("blocks." + Twine(i)).str());
      if (auto m = dyn_cast<MLSTMLayerAttr>(config))
        block = MLSTMBlockOp::create(b, blockLoc, actType, finalTypes, x,
                                     operands, initial, m);
      else if (auto sc = dyn_cast<SLSTMLayerAttr>(config))
        block = SLSTMBlockOp::create(b, blockLoc, actType, finalTypes, x,
                                     operands, initial, sc);
      else
        block =
            LargeBlockOp::create(b, blockLoc, actType, finalTypes, x, operands,
                                 initial, cast<LargeBlockAttr>(config));
      x = block->getResult(0);
      llvm::append_range(finalStates, block->getResults().drop_front());
    }
    if (lastOnly)
      x = lastPosition(x);
    // The head reads the projections' operand type; without a head the norm
    // writes the output in the stream's type.
    x = finalNorm(x, spec.hasTokens() ? elementType : residualType);
    if (spec.hasTokens()) {
      Value head =
          param(spec.family == ModelFamily::LMModel && spec.stack.tieWeights
                    ? "token_embedding.weight"
                    : "lm_head.weight");
      FloatAttr cap;
      if (spec.isLarge() && spec.large.outputLogitSoftCap > 0)
        cap = b.getF64FloatAttr(spec.large.outputLogitSoftCap);
      x = LMHeadOp::create(b, named("lm_head"), resultType, x, head, cap);
    }
    SmallVector<Value> results = {x};
    llvm::append_range(results, finalStates);
    func::ReturnOp::create(b, loc, results);
  }

  /// x[:, S - 1 : S, :] of a (batch, seq, width) tensor.
  Value lastPosition(Value x) {
    auto type = cast<RankedTensorType>(x.getType());
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    Value seq = tensor::DimOp::create(b, loc, x, one);
    Value last = arith::SubIOp::create(b, loc, seq, one);
    OpFoldResult batch = tensor::getMixedSize(b, loc, x, 0);
    SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), last,
                                         b.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes = {batch, b.getIndexAttr(1),
                                       b.getIndexAttr(type.getDimSize(2))};
    SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
    auto sliceType = RankedTensorType::get(
        {type.getDimSize(0), 1, type.getDimSize(2)}, type.getElementType());
    return tensor::ExtractSliceOp::create(b, loc, sliceType, x, offsets, sizes,
                                          strides);
  }

  /// post_blocks_norm (original) or out_norm (7B), written as `resultElt`;
  /// identity when disabled.
  Value finalNorm(Value x, Type resultElt) {
    auto resultType = cast<RankedTensorType>(x.getType()).clone(resultElt);
    if (spec.isLarge()) {
      if (!spec.large.addOutNorm)
        return x;
      return RMSNormOp::create(b, loc, resultType, x,
                               param("backbone.out_norm.weight"),
                               param("backbone.out_norm.bias"),
                               b.getF64FloatAttr(spec.large.normEps));
    }
    if (!spec.stack.addPostBlocksNorm)
      return x;
    return LayerNormOp::create(b, loc, resultType, x,
                               param(stackPrefix() + "post_blocks_norm.weight"),
                               /*bias=*/Value(), APFloat(kXLSTMNormEps),
                               NormScaling::one_plus_weight);
  }

  MLIRContext &ctx;
  OpBuilder b;
  const ModelSpec &spec;
  Location loc;
  Location named(StringRef name) {
    return NameLoc::get(StringAttr::get(&ctx, name), loc);
  }
  Type elementType;  ///< parameters, projection operands
  Type residualType; ///< the stream between blocks, logits
  SmallVector<Attribute> blockConfigs;
  SmallVector<Param> params;
  llvm::StringMap<unsigned> argIndex;
  func::FuncOp fn; ///< the function being built
};

} // namespace

OwningOpRef<ModuleOp>
xlstm::buildModelModule(MLIRContext &context, const ModelSpec &spec,
                        const ModelBuildOptions &options) {
  context.loadDialect<XLSTMDialect, func::FuncDialect, arith::ArithDialect,
                      tensor::TensorDialect>();
  return ModelBuilder(context, spec, options).build();
}

llvm::Expected<config::ModelSpec>
xlstm::configOfModule(ModuleOp module, StringRef sourceName,
                      llvm::raw_ostream &errs) {
  auto text = module->getAttrOfType<StringAttr>(kConfigAttrName);
  if (!text)
    return llvm::createStringError(
        sourceName + ": the module has no '" + kConfigAttrName +
        "' attribute (the resolved config that xlstmc records when it builds "
        "IR from a YAML config); it is needed for the manifest");
  std::optional<config::ModelSpec> spec = config::parseModelConfig(
      text.getValue(), (sourceName + " (" + kConfigAttrName + ")").str(), errs);
  if (!spec)
    return llvm::createStringError(sourceName + ": its '" + kConfigAttrName +
                                   "' attribute is not a valid config");
  return std::move(*spec);
}
