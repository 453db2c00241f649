//===- BuildConverters.cpp - @convert_<dtype>: parameter casts on the GPU -===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// A checkpoint's tensors need not be stored in the program's element type
// (a bf16 checkpoint for a float32 program, a float32 one for bf16). The
// bundle gets one host function per other storage type, @convert_<dtype>,
// that converts a flat buffer of that type into a flat buffer of the
// parameters' type on the GPU, so that the runtime uploads each tensor as
// it is stored (no host conversion, fewer bytes over the bus when the file
// is the narrower one).
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"

#include "xlstm/Conversion/Passes.h"
#include "xlstm/Dialect/XLSTM/IR/XLSTMAttrNames.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace xlstm {
#define GEN_PASS_DEF_XLSTMBUILDCONVERTERSPASS
#include "xlstm/Conversion/Passes.h.inc"
} // namespace xlstm

using namespace mlir;
using namespace xlstm;

namespace {

/// One element per thread: target[i] = source[i] through float32.
class ConvertKernel : KernelBuilder {
public:
  ConvertKernel(OpBuilder &b, Location loc)
      : KernelBuilder(b, loc, b.getF32Type()) {}

  void build(Value source, Value target, Value count, int64_t threads,
             gpu::LaunchOp launch) {
    Value i = add(mul(launch.getBlockIds().x, idx(threads)),
                  launch.getThreadIds().x);
    ifThen(ult(i, count), [&] { store(load(source, {i}), target, {i}); });
    gpu::TerminatorOp::create(b, loc);
  }
};

std::string dtypeName(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return s;
}

struct XLSTMBuildConvertersPass
    : xlstm::impl::XLSTMBuildConvertersPassBase<XLSTMBuildConvertersPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward)
      return;
    // The parameters' element type (all parameters share it).
    Type target;
    for (unsigned i = 0, e = forward.getNumArguments(); i < e && !target; ++i)
      if (forward.getArgAttr(i, kParamAttrName))
        target = getElementTypeOrSelf(forward.getArgument(i).getType());
    if (!target)
      return;
    if (threads < 32 || threads > 1024 || threads % 32 != 0) {
      module.emitError("xlstm-build-converters: threads must be a multiple "
                       "of 32 from 32 to 1024, got ")
          << static_cast<int64_t>(threads);
      return signalPassFailure();
    }
    OpBuilder b(&getContext());
    for (Type source : {Type(b.getF32Type()), Type(b.getBF16Type()),
                        Type(b.getF16Type())}) {
      if (source == target)
        continue;
      std::string name = "convert_" + dtypeName(source);
      if (module.lookupSymbol(name)) {
        module.emitError("xlstm-build-converters: the module already has @")
            << name;
        return signalPassFailure();
      }
      build(module, name, source, target);
    }
  }

  void build(ModuleOp module, StringRef name, Type source, Type target) {
    MLIRContext *ctx = &getContext();
    Location loc = NameLoc::get(StringAttr::get(ctx, "xlstm.convert"),
                                module.getLoc());
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    int64_t dyn = ShapedType::kDynamic;
    auto fn = func::FuncOp::create(
        b, loc, name,
        b.getFunctionType({MemRefType::get({dyn}, source),
                           MemRefType::get({dyn}, target)},
                          {}));
    fn.setArgAttr(0, kBufferAttrName, b.getStringAttr("source"));
    fn.setArgAttr(1, kBufferAttrName, b.getStringAttr("target"));
    b.setInsertionPointToStart(fn.addEntryBlock());
    auto idx = [&](int64_t v) {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    Value count = memref::DimOp::create(b, loc, fn.getArgument(0), idx(0));
    Value blocks = arith::CeilDivUIOp::create(b, loc, count, idx(threads));
    Value one = idx(1);
    auto launch = gpu::LaunchOp::create(b, loc, blocks, one, one,
                                        idx(threads), one, one);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&launch.getBody().front());
      ConvertKernel(b, loc).build(fn.getArgument(0), fn.getArgument(1), count,
                                  threads, launch);
    }
    func::ReturnOp::create(b, loc);
  }
};

} // namespace
