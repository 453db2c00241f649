//===- ReferenceModel.cpp - A model config run on the float64 oracle ------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Reference/ReferenceModel.h"
#include "xlstm/Dialect/XLSTM/Transforms/Passes.h"
#include "xlstm/Frontend/ModelBuilder.h"
#include "xlstm/Reference/Evaluator.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/CrashRecoveryContext.h"

using namespace mlir;
using namespace xlstm;
using namespace xlstm::reference;

namespace {
/// The functions as the frontend builds them: @forward(input, params) ->
/// (output, states) and @step(input, params, states) -> (output, states),
/// ranked tensors throughout, input of rank >= 2, states of rank >= 1, with
/// the xlstm.input/param/output/state names. IR from elsewhere (a damaged
/// bundle) is rejected here rather than crashing later.
LogicalResult checkSignatures(ModuleOp module) {
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  auto step = module.lookupSymbol<func::FuncOp>("step");
  auto fail = [&](const Twine &why) {
    return module.emitError("not the frontend's @forward/@step: ") << why;
  };
  if (!forward || !step)
    return fail("missing @forward or @step");
  auto ranked = [](Type t, int64_t minRank) {
    auto r = dyn_cast<RankedTensorType>(t);
    return r && r.getRank() >= minRank;
  };
  unsigned numParams = forward.getNumArguments() - 1;
  unsigned numStates =
      forward.getNumResults() ? forward.getNumResults() - 1 : 0;
  if (forward.getNumArguments() < 1 || forward.getNumResults() < 1 ||
      step.getNumArguments() != 1 + numParams + numStates ||
      step.getNumResults() != forward.getNumResults())
    return fail("argument or result counts do not match");
  for (func::FuncOp fn : {forward, step}) {
    if (!ranked(fn.getArgument(0).getType(), 2) ||
        !fn.getArgAttrOfType<StringAttr>(0, kInputAttrName) ||
        !ranked(fn.getResultTypes()[0], 2) ||
        !fn.getResultAttrOfType<StringAttr>(0, kOutputAttrName))
      return fail("@" + fn.getName() + " lacks a named input or output");
    for (unsigned i = 1; i <= numParams; ++i)
      if (!ranked(fn.getArgument(i).getType(), 0) ||
          !fn.getArgAttrOfType<StringAttr>(i, kParamAttrName))
        return fail("@" + fn.getName() + " argument " + Twine(i) +
                    " is not a named parameter");
    for (unsigned i = 1; i <= numStates; ++i) {
      auto name = fn.getResultAttrOfType<StringAttr>(i, kStateAttrName);
      if (!ranked(fn.getResultTypes()[i], 1) || !name ||
          !name.getValue().starts_with("blocks."))
        return fail("@" + fn.getName() + " result " + Twine(i) +
                    " is not a named state");
    }
  }
  for (unsigned i = 0; i < numStates; ++i)
    if (step.getArgument(1 + numParams + i).getType() !=
        forward.getResultTypes()[1 + i])
      return fail("@step's state arguments differ from @forward's states");
  return success();
}
} // namespace

FailureOr<ReferenceModel>
ReferenceModel::create(MLIRContext &context, const config::ModelSpec &spec,
                       const ReferenceOptions &options) {
  return fromModule(buildModelModule(context, spec), options);
}

FailureOr<ReferenceModel>
ReferenceModel::fromModule(OwningOpRef<ModuleOp> module,
                           const ReferenceOptions &options) {
  ReferenceModel model;
  model.moduleOp = std::move(module);
  MLIRContext &context = *model.moduleOp->getContext();
  if (failed(verify(*model.moduleOp)))
    return failure();
  if (failed(checkSignatures(*model.moduleOp)))
    return failure();
  auto forward = model.moduleOp->lookupSymbol<func::FuncOp>("forward");
  if (options.level != PipelineLevel::Graph) {
    PassManager pm(&context);
    pm.addPass(createXLSTMExpandBlocksPass());
    if (options.level == PipelineLevel::Tiled ||
        options.level == PipelineLevel::Linalg) {
      pm.addPass(createXLSTMTileMLSTMChunkwisePass({options.chunkSize}));
      pm.addPass(createXLSTMFuseSLSTMStepsPass());
    }
    if (options.level == PipelineLevel::Linalg)
      pm.addPass(createXLSTMLowerToLinalgPass());
    pm.addPass(createCSEPass());
    if (failed(pm.run(*model.moduleOp)))
      return failure();
  }
  forward = model.moduleOp->lookupSymbol<func::FuncOp>("forward");
  model.input = forward.getArgAttrOfType<StringAttr>(0, kInputAttrName).str();
  model.output =
      forward.getResultAttrOfType<StringAttr>(0, kOutputAttrName).str();
  for (unsigned i = 1, e = forward.getNumArguments(); i < e; ++i) {
    weights::ParamDesc desc;
    auto name = forward.getArgAttrOfType<StringAttr>(i, kParamAttrName);
    auto type = dyn_cast<RankedTensorType>(forward.getArgument(i).getType());
    if (!name || !type)
      return forward.emitError("argument ")
             << i << " of @forward is not a named parameter tensor";
    desc.name = name.str();
    desc.shape.assign(type.getShape().begin(), type.getShape().end());
    if (auto aliases = forward.getArgAttrOfType<ArrayAttr>(i, kAliasesAttrName))
      for (StringRef alias : aliases.getAsValueRange<StringAttr>())
        desc.aliases.push_back(alias.str());
    model.paramDescs.push_back(std::move(desc));
  }
  for (unsigned i = 1, e = forward.getNumResults(); i < e; ++i) {
    auto name = forward.getResultAttrOfType<StringAttr>(i, kStateAttrName);
    auto type = dyn_cast<RankedTensorType>(forward.getResultTypes()[i]);
    if (!name || !type)
      return forward.emitError("result ")
             << i << " of @forward is not a named state tensor";
    model.stateNameList.push_back(name.str());
    model.stateShapes.emplace_back(type.getShape().begin(),
                                   type.getShape().end());
  }
  return model;
}

std::vector<Tensor> ReferenceModel::zeroStates(int64_t batch) const {
  std::vector<Tensor> states;
  for (const auto &shape : stateShapes) {
    SmallVector<int64_t> concrete(shape.begin(), shape.end());
    concrete[0] = batch;
    states.emplace_back(concrete);
  }
  return states;
}

llvm::Expected<ReferenceModel::Result>
ReferenceModel::forward(const Tensor &x) {
  return call("forward", x, {});
}

llvm::Expected<ReferenceModel::Result>
ReferenceModel::step(const Tensor &x, ArrayRef<Tensor> states) {
  return call("step", x, states);
}

llvm::Expected<ReferenceModel::Result>
ReferenceModel::call(StringRef function, const Tensor &x,
                     ArrayRef<Tensor> states) {
  auto fn = moduleOp->lookupSymbol<func::FuncOp>(function);
  auto inputType = cast<RankedTensorType>(fn.getArgument(0).getType());
  int64_t rank = inputType.getRank();
  bool ok = x.rank() == rank;
  for (int64_t d = 1; ok && d < rank; ++d)
    ok = inputType.isDynamicDim(d) || x.dim(d) == inputType.getDimSize(d);
  if (!ok) {
    std::string expected = "(batch, ";
    expected += inputType.isDynamicDim(1) ? "seq" : "1";
    if (rank == 3)
      expected += ", " + std::to_string(inputType.getDimSize(2));
    expected += ")";
    return llvm::createStringError("input '%s' has shape %s, expected %s",
                                   input.c_str(), x.shapeString().c_str(),
                                   expected.c_str());
  }
  if (x.dim(0) < 1 || x.dim(1) < 1)
    return llvm::createStringError("input '%s' is empty (shape %s)",
                                   input.c_str(), x.shapeString().c_str());
  if (paramValues.size() != paramDescs.size())
    return llvm::createStringError("parameters are not set");
  SmallVector<Tensor> args = {x};
  for (auto [desc, values] : llvm::zip(paramDescs, paramValues))
    args.push_back(Tensor(desc.shape, values));
  llvm::append_range(args, states);
  FailureOr<SmallVector<Tensor>> results = evaluate(fn, args);
  if (failed(results))
    return llvm::createStringError("evaluation failed (see the error above)");
  Result result;
  result.output = std::move((*results)[0]);
  for (Tensor &t : llvm::drop_begin(*results))
    result.states.push_back(std::move(t));
  return result;
}

mlir::OwningOpRef<mlir::ModuleOp>
xlstm::reference::parseModelIR(llvm::StringRef text, llvm::StringRef name,
                               mlir::MLIRContext &context) {
  llvm::CrashRecoveryContext::Enable();
  mlir::OwningOpRef<mlir::ModuleOp> module;
  llvm::CrashRecoveryContext recovery;
  bool finished = recovery.RunSafely([&] {
    module = mlir::parseSourceString<mlir::ModuleOp>(text, &context, name);
  });
  if (finished)
    return module;
  // The half-built IR may be inconsistent: leak it rather than destroy it.
  (void)module.release();
  mlir::emitError(mlir::FileLineColLoc::get(&context, name, 0, 0))
      << "MLIR's parser crashed on this IR (a malformed op; the bundle is "
         "corrupt or was edited by hand)";
  return nullptr;
}
