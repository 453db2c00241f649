//===- LoweringReport.cpp - Which kernel each model op became -------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Conversion/LoweringReport.h"
#include "xlstm/Conversion/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"

namespace xlstm {
#define GEN_PASS_DEF_XLSTMLOWERINGREPORTPASS
#include "xlstm/Conversion/Passes.h.inc"
} // namespace xlstm

using namespace mlir;

std::string xlstm::formatShape(ArrayRef<int64_t> shape) {
  return llvm::join(llvm::map_range(shape,
                                    [](int64_t d) {
                                      return ShapedType::isDynamic(d)
                                                 ? std::string("?")
                                                 : std::to_string(d);
                                    }),
                    "x");
}

int64_t xlstm::leadingRows(ArrayRef<int64_t> shape) {
  int64_t rows = 1;
  for (int64_t d : shape.drop_back())
    rows = ShapedType::isDynamic(d) || ShapedType::isDynamic(rows)
               ? ShapedType::kDynamic
               : rows * d;
  return rows;
}

/// What a `linalg.copy` copies into `buffer` or a subview of it, if any.
static Value copiedInto(Value buffer) {
  auto sourceOf = [](Value target) -> Value {
    for (Operation *user : target.getUsers())
      if (auto copy = dyn_cast<linalg::CopyOp>(user);
          copy && copy.getOutputs()[0] == target)
        return copy.getInputs()[0];
    return {};
  };
  if (Value source = sourceOf(buffer))
    return source;
  for (Operation *user : buffer.getUsers())
    if (auto view = dyn_cast<memref::SubViewOp>(user))
      if (Value source = sourceOf(view.getResult()))
        return source;
  return {};
}

/// The @forward/@step parameter `v` is a view (or a copy) of, if any.
static StringAttr parameterOf(Value v) {
  while (v) {
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      auto func =
          dyn_cast<FunctionOpInterface>(arg.getOwner()->getParentOp());
      if (!func || arg.getOwner() != &func.getFunctionBody().front())
        return {};
      return func.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                               "xlstm.param");
    }
    Operation *def = v.getDefiningOp();
    if (auto view = dyn_cast<ViewLikeOpInterface>(def))
      v = view.getViewSource();
    else if (auto toBuffer = dyn_cast<bufferization::ToBufferOp>(def))
      v = toBuffer.getTensor();
    else if (isa<tensor::ExtractSliceOp, tensor::CollapseShapeOp,
                 tensor::ExpandShapeOp, tensor::CastOp>(def))
      v = def->getOperand(0);
    else if (isa<memref::AllocOp>(def) && (v = copiedInto(def->getResult(0))))
      continue; // a padded copy of the parameter (xlstm-contract-to-mma)
    else
      return {};
  }
  return {};
}

static std::string elementTypeName(Value v) {
  if (!v)
    return "";
  Type t = v.getType();
  if (auto shaped = dyn_cast<ShapedType>(t))
    t = shaped.getElementType();
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return s;
}

/// The kernel choices recorded on `launch`: none, one, or one per op a
/// launch of sibling projections serves.
static SmallVector<DictionaryAttr> recordedChoices(Operation *launch) {
  Attribute known = launch->getAttr(xlstm::kKernelChoiceAttr);
  if (auto list = dyn_cast_or_null<ArrayAttr>(known))
    return llvm::to_vector(list.getAsRange<DictionaryAttr>());
  if (auto one = dyn_cast_or_null<DictionaryAttr>(known))
    return {one};
  return {};
}

void xlstm::recordKernelChoice(Operation *launch, const KernelChoice &choice,
                               Value reads) {
  Builder b(launch->getContext());
  SmallVector<NamedAttribute> fields = {
      b.getNamedAttr("family", b.getStringAttr(choice.family)),
      b.getNamedAttr("shape", b.getStringAttr(choice.shape)),
      b.getNamedAttr("kernel", b.getStringAttr(choice.kernel)),
      b.getNamedAttr("dtype", b.getStringAttr(elementTypeName(reads)))};
  if (!choice.when.empty())
    fields.push_back(b.getNamedAttr("when", b.getStringAttr(choice.when)));
  if (StringAttr param = parameterOf(reads))
    fields.push_back(b.getNamedAttr("param", param));
  // A launch serving several ops (sibling projections) lists each.
  SmallVector<Attribute> choices;
  for (DictionaryAttr known : recordedChoices(launch))
    choices.push_back(known);
  choices.push_back(b.getDictionaryAttr(fields));
  launch->setAttr(kKernelChoiceAttr, choices.size() == 1
                                         ? choices.front()
                                         : b.getArrayAttr(choices));
}

void xlstm::recordGenericReason(Operation *op, StringRef reason) {
  op->setAttr(kGenericReasonAttr, StringAttr::get(op->getContext(), reason));
}

namespace {

/// The names a location carries, outermost first (the frontend nests the
/// op's name inside its block's: "blocks.3" then "xlstm.causal_conv1d").
void collectNames(Location loc, SmallVectorImpl<StringRef> &names) {
  if (auto name = dyn_cast<NameLoc>(loc)) {
    collectNames(name.getChildLoc(), names);
    if (names.empty() || names.back() != name.getName().getValue())
      names.push_back(name.getName().getValue());
  } else if (auto fused = dyn_cast<FusedLoc>(loc)) {
    for (Location inner : fused.getLocations()) {
      collectNames(inner, names);
      if (!names.empty())
        return;
    }
  } else if (auto callSite = dyn_cast<CallSiteLoc>(loc)) {
    collectNames(callSite.getCallee(), names);
  }
}

/// The family of a linalg op left for the generic kernels, from the model op
/// its location names; empty for the rest (elementwise, copies, gathers).
StringRef genericFamily(linalg::LinalgOp op, ArrayRef<StringRef> names) {
  // Copies, fills and elementwise epilogues around a model op are not the
  // op itself: only its reductions (a projection's sum, a norm's moments,
  // a conv's taps) say which kernel the op took.
  if (op.getNumReductionLoops() == 0)
    return "";
  for (StringRef name : llvm::reverse(names)) {
    if (name == "xlstm.causal_conv1d")
      return "conv";
    if (name == "xlstm.layer_norm" || name == "xlstm.multihead_norm" ||
        name == "xlstm.rms_norm")
      return "norm";
    if (name == "xlstm.slstm" || name == "xlstm.slstm_step" ||
        name == "xlstm.mlstm" || name == "xlstm.mlstm_chunk_states" ||
        name == "xlstm.mlstm_chunk_outputs")
      return "recurrence";
    if (name == "xlstm.headwise_linear")
      return "projection";
  }
  if (isa<linalg::ContractOp, linalg::MatmulOp, linalg::BatchMatmulOp>(
          op.getOperation()))
    return "projection";
  return "";
}

/// M x N x K of a projection x (lead..., K) · W (N, K); the loop ranges for
/// anything else.
std::string genericShape(linalg::LinalgOp op) {
  if (auto contract = dyn_cast<linalg::ContractOp>(op.getOperation());
      contract && contract.getDpsInputs().size() == 2) {
    auto x = dyn_cast<ShapedType>(contract.getDpsInputs()[0].getType());
    auto w = dyn_cast<ShapedType>(contract.getDpsInputs()[1].getType());
    if (x && w && x.getRank() >= 2 && w.getRank() == 2)
      return xlstm::formatShape({xlstm::leadingRows(x.getShape()),
                                 w.getDimSize(0), w.getDimSize(1)});
  }
  return xlstm::formatShape(op.getStaticLoopRanges());
}

struct Entry {
  std::string function, family, where, shape, dtype;
  Location loc;
  llvm::SmallVector<std::string> kernels;
  int64_t genericKernels = 0;
  std::string genericReason;
};

struct XLSTMLoweringReportPass
    : xlstm::impl::XLSTMLoweringReportPassBase<XLSTMLoweringReportPass> {
  using Base::Base;
  XLSTMLoweringReportPass(const xlstm::XLSTMLoweringReportPassOptions &options,
                          llvm::raw_ostream &os)
      : Base(options), os(&os) {}

  /// Where the table goes: stdout unless a tool gives its output stream.
  llvm::raw_ostream *os = &llvm::outs();

  void runOnOperation() override {
    // In order of first appearance, keyed by function, family, where and
    // shape.
    std::vector<Entry> entries;
    llvm::StringMap<size_t> index;
    int64_t otherGeneric = 0, undescribed = 0;
    auto entryFor = [&](StringRef function, StringRef family, Location loc,
                        StringRef param, StringRef shape,
                        StringRef dtype) -> Entry & {
      SmallVector<StringRef> names;
      collectNames(loc, names);
      std::string where =
          param.empty() ? llvm::join(names, " ") : param.str();
      if (where.empty())
        where = "(unnamed)";
      std::string key =
          (function + "/" + family + "/" + where + "/" + shape).str();
      auto [it, inserted] = index.try_emplace(key, entries.size());
      if (inserted)
        entries.push_back(Entry{function.str(), family.str(), where,
                                shape.str(), dtype.str(), loc, {}, 0, ""});
      return entries[it->second];
    };

    for (auto func : getOperation().getOps<FunctionOpInterface>()) {
      StringRef function = func.getName();
      func->walk<WalkOrder::PreOrder>([&](Operation *op) {
        // A kernel a pass built inline, or once for many launch sites.
        if (isa<gpu::LaunchOp, gpu::LaunchFuncOp>(op)) {
          Operation *launch = op;
          SmallVector<DictionaryAttr> choices = recordedChoices(launch);
          for (DictionaryAttr choice : choices) {
            auto field = [&](StringRef name) -> StringRef {
              auto s = choice.getAs<StringAttr>(name);
              return s ? s.getValue() : StringRef();
            };
            Entry &e = entryFor(function, field("family"), launch->getLoc(),
                                field("param"), field("shape"),
                                field("dtype"));
            std::string kernel = field("kernel").str();
            if (!field("when").empty())
              kernel += " [" + field("when").str() + "]";
            if (!llvm::is_contained(e.kernels, kernel))
              e.kernels.push_back(kernel);
          }
          if (choices.empty()) {
            // A launch nobody described (written by hand or by another
            // pass): a kernel, but not one of the generic loop nests.
            ++undescribed;
          }
          return WalkResult::skip();
        }
        auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
        if (!linalgOp || !linalgOp.hasPureBufferSemantics())
          return WalkResult::advance();
        SmallVector<StringRef> names;
        collectNames(op->getLoc(), names);
        StringRef family = genericFamily(linalgOp, names);
        if (family.empty()) {
          ++otherGeneric;
          return WalkResult::advance();
        }
        Value reads = linalgOp.getDpsInputs().empty()
                          ? linalgOp.getDpsInits()[0]
                          : linalgOp.getDpsInputs()[0];
        StringAttr param;
        if (family == "projection" && linalgOp.getDpsInputs().size() > 1)
          param = parameterOf(linalgOp.getDpsInputs()[1]);
        // Projections are keyed by shape too (one parameter may feed
        // several); the pieces of a norm or conv have different loop
        // ranges, so they meet by location and the first one's shows.
        Entry &e = entryFor(function, family, op->getLoc(),
                            param ? param.getValue() : StringRef(),
                            family == "projection" ? genericShape(linalgOp)
                                                   : "",
                            elementTypeName(reads));
        if (e.shape.empty())
          e.shape = genericShape(linalgOp);
        if (e.genericKernels++ == 0)
          e.loc = op->getLoc();
        if (auto reason =
                op->getAttrOfType<StringAttr>(xlstm::kGenericReasonAttr);
            reason && e.genericReason.empty())
          e.genericReason = reason.str();
        return WalkResult::advance();
      });
    }

    bool failedCheck = false;
    for (Entry &e : entries) {
      if (e.genericKernels) {
        std::string generic = "generic";
        if (e.genericKernels > 1)
          generic += " x" + std::to_string(e.genericKernels);
        if (!e.genericReason.empty())
          generic += " (" + e.genericReason + ")";
        e.kernels.push_back(generic);
      }
      if (requireFastKernels && e.genericKernels) {
        InFlightDiagnostic d = emitError(e.loc)
                               << e.family << " " << e.where << " ("
                               << e.function << ", " << e.shape << " "
                               << e.dtype << ") takes a generic kernel";
        if (!e.genericReason.empty())
          d << ": " << e.genericReason;
        d << " (--require-fast-kernels)";
        failedCheck = true;
      }
    }
    if (print)
      printTable(entries, otherGeneric, undescribed, *os);
    if (failedCheck)
      signalPassFailure();
  }

  static void printTable(ArrayRef<Entry> entries,
                         int64_t otherGeneric, int64_t undescribed,
                         llvm::raw_ostream &os) {
    size_t widths[5] = {8, 10, 5, 5, 5};
    for (const Entry &e : entries) {
      widths[0] = std::max(widths[0], e.function.size());
      widths[1] = std::max(widths[1], e.family.size());
      widths[2] = std::max(widths[2], e.where.size());
      widths[3] = std::max(widths[3], e.shape.size());
      widths[4] = std::max(widths[4], e.dtype.size());
    }
    auto row = [&](ArrayRef<StringRef> cells, StringRef kernels) {
      for (auto [cell, width] : llvm::zip(cells, widths))
        os << cell << std::string(width - cell.size() + 2, ' ');
      os << kernels << "\n";
    };
    row({"function", "family", "where", "shape", "dtype"}, "kernels");
    int64_t generic = 0;
    for (const Entry &e : entries) {
      row({e.function, e.family, e.where, e.shape, e.dtype},
          llvm::join(e.kernels, " | "));
      generic += e.genericKernels != 0;
    }
    os << entries.size() << " ops, " << entries.size() - generic
       << " on specialised kernels only, " << generic
       << " with generic kernels; " << otherGeneric
       << " other generic kernels (elementwise, copies, gathers)";
    if (undescribed)
      os << "; " << undescribed << " launches no pass described";
    os << "\n";
  }
};

} // namespace

std::unique_ptr<Pass> xlstm::createXLSTMLoweringReportPass(
    const XLSTMLoweringReportPassOptions &options, llvm::raw_ostream &os) {
  return std::make_unique<XLSTMLoweringReportPass>(options, os);
}
