//===- ParameterBinding.cpp - Checkpoint tensors by upstream name ---------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Binding, sLSTM layout conversion, initialisation and writing of model
// parameters. Initialisation follows shared/spec/xlstm-architecture.md §d and
// xlstm-large-7b.md §7; its random numbers come from a splitmix64 stream per
// tensor (seeded by the seed and the tensor's name, so a tensor's values do
// not depend on which other parameters exist) and the Marsaglia polar method
// with a logarithm built from IEEE +,*,/ only, so no libm or standard-library
// distribution decides the values.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Weights/ParameterBinding.h"
#include "xlstm/Weights/Random.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace llvm;
using namespace xlstm::weights;
namespace config = xlstm::config;
using xlstm::config::BlockKind;
using xlstm::config::ModelSpec;
using xlstm::config::SLSTMBackend;
using xlstm::config::SLSTMBiasInit;
using xlstm::config::SLSTMLayerConfig;

namespace {
/// Problems listed in one binding error before the rest are only counted.
constexpr size_t kMaxProblems = 20;
constexpr StringLiteral kKernelSuffix = "slstm_cell._recurrent_kernel_";
constexpr StringLiteral kBiasSuffix = "slstm_cell._bias_";

int64_t numElements(ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t dim : shape)
    n *= std::max<int64_t>(dim, 0);
  return n;
}

std::string shapeString(ArrayRef<int64_t> shape) {
  TensorView view;
  view.shape.assign(shape.begin(), shape.end());
  return view.shapeString();
}

//===----------------------------------------------------------------------===//
// sLSTM layouts (spec §b.6): R[h, i, g, j] and b[h, g, j], gates i, f, z, o
//===----------------------------------------------------------------------===//

int64_t kernelIndex(SLSTMBackend layout, int64_t dh, int64_t h, int64_t i,
                    int64_t g, int64_t j) {
  if (layout == SLSTMBackend::Vanilla) // (NH, 4DH, DH)
    return (h * 4 * dh + g * dh + j) * dh + i;
  return (h * dh + i) * 4 * dh + g * dh + j; // (NH, DH, 4DH)
}

int64_t biasIndex(SLSTMBackend layout, int64_t nh, int64_t dh, int64_t h,
                  int64_t g, int64_t j) {
  if (layout == SLSTMBackend::Vanilla) // gate-major
    return (g * nh + h) * dh + j;
  return (h * 4 + g) * dh + j; // head-major
}

SmallVector<int64_t, 4> kernelShape(SLSTMBackend layout, int64_t nh,
                                    int64_t dh) {
  if (layout == SLSTMBackend::Vanilla)
    return {nh, 4 * dh, dh};
  return {nh, dh, 4 * dh};
}

/// (NH, DH) of a recurrent kernel of `shape` stored in `layout`.
std::optional<std::pair<int64_t, int64_t>>
kernelHeads(SLSTMBackend layout, ArrayRef<int64_t> shape) {
  if (shape.size() != 3 || shape[0] <= 0 || shape[1] <= 0 || shape[2] <= 0)
    return std::nullopt;
  int64_t dh = layout == SLSTMBackend::Vanilla ? shape[2] : shape[1];
  if (ArrayRef<int64_t>(kernelShape(layout, shape[0], dh)) != shape)
    return std::nullopt;
  return std::make_pair(shape[0], dh);
}

//===----------------------------------------------------------------------===//
// Binding
//===----------------------------------------------------------------------===//

/// "'a'" or "'a' (or 'b', 'c')": the names a parameter may be stored under.
std::string quotedNames(const ParamDesc &p) {
  std::string s = "'" + p.name + "'";
  for (auto [i, alias] : enumerate(p.aliases))
    s += (i == 0 ? " (or '" : ", '") + alias + "'";
  return p.aliases.empty() ? s : s + ")";
}

bool sameValues(ArrayRef<double> a, ArrayRef<double> b) {
  return a.size() == b.size() && all_of(zip(a, b), [](auto pair) {
           auto [x, y] = pair;
           return x == y || (std::isnan(x) && std::isnan(y));
         });
}

/// Other spellings of an xlstm_large name: Hugging Face transformers calls
/// the embedding `backbone.embeddings` (7B spec §6.2); everything else is
/// spelt the same.
SmallVector<std::string, 1> otherSpellings(StringRef name) {
  if (name == "embedding.weight")
    return {"backbone.embeddings.weight"};
  return {};
}

/// weight_mode "fused" tensors (7B spec §6.1): the rows of `fused` are the
/// single-mode tensors `parts`, concatenated in this order.
struct FusedLayout {
  StringLiteral fused;
  SmallVector<StringLiteral, 4> parts;
};
const FusedLayout kFusedLayouts[] = {
    {"mlstm_layer.qkv_opreact.weight",
     {"mlstm_layer.q.weight", "mlstm_layer.k.weight", "mlstm_layer.v.weight",
      "mlstm_layer.ogate_preact.weight"}},
    {"mlstm_layer.qkv_opreact.bias",
     {"mlstm_layer.q.bias", "mlstm_layer.k.bias", "mlstm_layer.v.bias",
      "mlstm_layer.ogate_preact.bias"}},
    {"mlstm_layer.ifgate_preact.weight",
     {"mlstm_layer.igate_preact.weight", "mlstm_layer.fgate_preact.weight"}},
    {"mlstm_layer.ifgate_preact.bias",
     {"mlstm_layer.igate_preact.bias", "mlstm_layer.fgate_preact.bias"}},
    {"ffn.proj_up_gate_z.weight",
     {"ffn.proj_up_gate.weight", "ffn.proj_up.weight"}},
    {"ffn.proj_up_gate_z.bias", {"ffn.proj_up_gate.bias", "ffn.proj_up.bias"}},
};

/// `p` as a row range of a fused tensor of `checkpoint`, if it has one of
/// the right shape; shape problems of a fused tensor that exists are
/// appended to `problems`.
std::optional<BoundTensor>
bindFusedPart(const ParamDesc &p, const Checkpoint &checkpoint,
              const StringMap<const ParamDesc *> &byName, StringSet<> &used,
              std::vector<std::string> &problems) {
  StringRef name = p.name;
  for (const FusedLayout &layout : kFusedLayouts) {
    const StringLiteral *part = find_if(layout.parts, [&](StringRef suffix) {
      return name == suffix || name.ends_with(("." + suffix).str());
    });
    if (part == layout.parts.end())
      continue;
    std::string prefix = name.drop_back(part->size()).str();
    std::string fusedName = prefix + layout.fused.str();
    const TensorView *fused = checkpoint.find(fusedName);
    if (!fused)
      return std::nullopt;
    used.insert(fusedName);
    // Row offsets from the shapes of the parts the model expects.
    int64_t rows = 0, offsetRows = 0;
    for (StringRef sibling : layout.parts) {
      const ParamDesc *d = byName.lookup(prefix + sibling.str());
      if (!d || d->shape.empty()) {
        problems.push_back("fused tensor '" + fusedName +
                           "' cannot be split: the model has no parameter '" +
                           prefix + sibling.str() + "'");
        return std::nullopt;
      }
      if (sibling == *part)
        offsetRows = rows;
      rows += d->shape.front();
    }
    SmallVector<int64_t, 4> expected(p.shape);
    expected.front() = rows;
    if (ArrayRef<int64_t>(fused->shape) != ArrayRef<int64_t>(expected) ||
        !isFloat(fused->dtype)) {
      problems.push_back("fused tensor '" + fusedName + "' has shape " +
                         fused->shapeString() + " and dtype " +
                         toString(fused->dtype).str() + ", expected " +
                         shapeString(expected) + " (rows of " +
                         join(layout.parts, ", ") + ") and a float dtype");
      return std::nullopt;
    }
    int64_t rowElements = numElements(p.shape) / std::max<int64_t>(
                                                     p.shape.front(), 1);
    BoundTensor bound;
    bound.tensor = fused;
    bound.offset = offsetRows * rowElements;
    bound.count = numElements(p.shape);
    return bound;
  }
  return std::nullopt;
}

/// Binds one parameter, appending any problems; nullopt if it failed.
std::optional<BoundTensor>
bindOne(const ParamDesc &p, const Checkpoint &checkpoint,
        const StringMap<const ParamDesc *> &byName, SLSTMBackend fileLayout,
        SLSTMBackend modelLayout, StringSet<> &used,
        std::vector<std::string> &problems) {
  SmallVector<const TensorView *, 2> found;
  SmallVector<std::string, 4> names = {p.name};
  names.append(p.aliases.begin(), p.aliases.end());
  names.append(otherSpellings(p.name));
  for (StringRef name : names)
    if (const TensorView *t = checkpoint.find(name)) {
      found.push_back(t);
      used.insert(name);
    }
  if (found.empty()) {
    size_t before = problems.size();
    if (std::optional<BoundTensor> part =
            bindFusedPart(p, checkpoint, byName, used, problems))
      return part;
    if (problems.size() == before)
      problems.push_back("missing tensor " + quotedNames(p) +
                         " (expected shape " + shapeString(p.shape) +
                         ", a float dtype)");
    return std::nullopt;
  }

  // sLSTM tensors stored in the other layout: the file's kernel has the other
  // layout's shape; NH and DH come from the model's expected kernel shape.
  bool isKernel = StringRef(p.name).ends_with(kKernelSuffix);
  bool isBias = StringRef(p.name).ends_with(kBiasSuffix);
  bool convert = fileLayout != modelLayout && (isKernel || isBias);
  SmallVector<int64_t, 4> stored(p.shape);
  std::optional<std::pair<int64_t, int64_t>> heads;
  if (convert) {
    std::string kernelName =
        (StringRef(p.name).drop_back(kBiasSuffix.size()) + kKernelSuffix).str();
    const ParamDesc *kernel = isKernel ? &p : byName.lookup(kernelName);
    if (kernel)
      heads = kernelHeads(modelLayout, kernel->shape);
    std::string why;
    if (!kernel)
      why = "no parameter '" + kernelName + "' gives its head count";
    else if (!heads)
      why = "expected kernel shape " + shapeString(kernel->shape) +
            " is not a " + toString(modelLayout).str() + "-layout kernel";
    else if (isBias && 4 * heads->first * heads->second != numElements(p.shape))
      why = "expected shape " + shapeString(p.shape) + " does not hold 4 x " +
            std::to_string(heads->first) + " heads x " +
            std::to_string(heads->second) + " values";
    if (!why.empty()) {
      problems.push_back("cannot convert '" + p.name + "' from the " +
                         toString(fileLayout).str() + " to the " +
                         toString(modelLayout).str() + " layout: " + why);
      return std::nullopt;
    }
    if (isKernel)
      stored = kernelShape(fileLayout, heads->first, heads->second);
  }

  bool ok = true;
  for (const TensorView *t : found) {
    if (!isFloat(t->dtype)) {
      problems.push_back("tensor '" + t->name + "' has dtype " +
                         toString(t->dtype).str() +
                         ", expected a floating-point dtype (F32, BF16, F16, "
                         "F64)");
      ok = false;
    }
    if (ArrayRef<int64_t>(t->shape) != ArrayRef<int64_t>(stored)) {
      problems.push_back(
          "tensor '" + t->name + "' has shape " + t->shapeString() +
          ", expected " + shapeString(stored) +
          (convert && isKernel ? " (the file's slstm_layout is " +
                                     toString(fileLayout).str() + ")"
                               : ""));
      ok = false;
    }
  }
  if (!ok)
    return std::nullopt;
  BoundTensor bound;
  bound.tensor = found.front();
  bound.count = numElements(p.shape);
  if (found.size() > 1) {
    std::vector<double> values = toF64(*found.front());
    for (const TensorView *t : drop_begin(found))
      if (!sameValues(values, toF64(*t)))
        problems.push_back("tensors '" + found.front()->name + "' and '" +
                           t->name +
                           "' name the same parameter but differ (tied copies "
                           "must be equal)");
  }
  if (convert)
    bound.layoutChange = BoundTensor::LayoutChange{
        isKernel, heads->first, heads->second, fileLayout, modelLayout};
  return bound;
}

//===----------------------------------------------------------------------===//
// Initialisation
//===----------------------------------------------------------------------===//

/// Fills element ranges of one tensor (default: the whole tensor).
struct TensorInit {
  std::vector<double> &out;
  SeededRandom rng;

  int64_t size() const { return int64_t(out.size()); }
  void fill(double v, int64_t b = 0, int64_t e = -1) {
    auto [lo, hi] = range(b, e);
    std::fill(out.begin() + lo, out.begin() + hi, v);
  }
  void normal(double std, int64_t b = 0, int64_t e = -1) {
    auto [lo, hi] = range(b, e);
    for (int64_t i = lo; i < hi; ++i)
      out[i] = std * rng.normal();
  }
  void uniform(double bound, int64_t b = 0, int64_t e = -1) {
    auto [lo, hi] = range(b, e);
    for (int64_t i = lo; i < hi; ++i)
      out[i] = bound * (2 * rng.uniform() - 1);
  }
  /// linspace(first, last, e - b) into [b, e).
  void linspace(double first, double last, int64_t b = 0, int64_t e = -1) {
    auto [lo, hi] = range(b, e);
    std::vector<double> values = linspaceValues(first, last, hi - lo);
    std::copy(values.begin(), values.end(), out.begin() + lo);
  }

  /// torch.linspace: n evenly spaced values including both ends.
  static std::vector<double> linspaceValues(double first, double last,
                                            int64_t n) {
    std::vector<double> v(std::max<int64_t>(n, 0));
    for (int64_t i = 0; i < n; ++i)
      v[i] =
          n == 1 ? first : first + (last - first) * double(i) / double(n - 1);
    return v;
  }

private:
  /// [b, e) (e < 0: to the end) clamped to the tensor, so a shape that does
  /// not match the config never writes out of bounds.
  std::pair<int64_t, int64_t> range(int64_t b, int64_t e) const {
    int64_t hi = e < 0 ? size() : std::min(e, size());
    return {std::min(b, hi), hi};
  }
};

double smallInitStd(int64_t dim) { return std::sqrt(2.0 / (5.0 * dim)); }
double wangInitStd(int64_t dim, int64_t numBlocks) {
  return 2.0 / double(numBlocks) / std::sqrt(double(dim));
}

/// `name` without the model prefix, split into the block index (-1 outside
/// the blocks) and the name inside the block.
std::pair<int64_t, StringRef> splitBlockName(StringRef name) {
  if (!name.consume_front("xlstm_block_stack."))
    name.consume_front("backbone.");
  int64_t block = -1;
  StringRef rest = name;
  if (rest.consume_front("blocks.")) {
    auto [digits, local] = rest.split('.');
    if (!digits.getAsInteger(10, block))
      return {block, local};
  }
  return {-1, name};
}

/// The f-gate bias of one head for the sLSTM bias inits that have one.
std::vector<double> slstmForgetBias(SLSTMBiasInit init, int64_t dh,
                                    int64_t block, int64_t numBlocks) {
  if (init == SLSTMBiasInit::SmallInit)
    return TensorInit::linspaceValues(3.0, 6.0, dh);
  // powerlaw_blockdependent: 5 - 12 (j / (DH-1))^(0.3 + 1.3 r). Upstream
  // divides 0/0 for DH = 1 (NaN); we give that single value 5.
  double r = numBlocks > 1 ? double(block) / double(numBlocks - 1) : 0.0;
  std::vector<double> f(dh);
  for (int64_t j = 0; j < dh; ++j) {
    double ratio = dh > 1 ? double(j) / double(dh - 1) : 0.0;
    f[j] = 5.0 - 12.0 * std::pow(ratio, 0.3 + 1.3 * r);
  }
  return f;
}

void initSLSTMBias(const SLSTMLayerConfig &c, int64_t block, int64_t numBlocks,
                   TensorInit &t) {
  int64_t nh = c.numHeads, dh = c.headDim();
  if (4 * nh * dh != t.size())
    return;
  switch (c.biasInit) {
  case SLSTMBiasInit::Zeros:
    return;
  case SLSTMBiasInit::Standard:
    return t.uniform(1.0 / std::sqrt(double(c.hiddenSize)));
  case SLSTMBiasInit::SmallInit:
  case SLSTMBiasInit::PowerlawBlockDependent:
    break;
  }
  std::vector<double> f = slstmForgetBias(c.biasInit, dh, block, numBlocks);
  constexpr int64_t kForgetGate = 1; // gate order i, f, z, o
  for (int64_t h = 0; h < nh; ++h)
    for (int64_t j = 0; j < dh; ++j)
      t.out[biasIndex(c.backend, nh, dh, h, kForgetGate, j)] = f[j];
}

/// xLSTMBlockStack / xLSTMLMModel after reset_parameters() (spec §d). Names
/// not listed (norm weights, linear biases, mLSTM gate weights) are 0.
void initStack(const ModelSpec &spec, const ParamDesc &p, TensorInit &t) {
  int64_t e = spec.embeddingDim(), numBlocks = spec.numBlocks();
  auto [block, local] = splitBlockName(p.name);
  if (block < 0) {
    if (local == "token_embedding.weight" || local == "lm_head.weight")
      t.normal(smallInitStd(e));
    return;
  }
  if (local.ends_with(".weight") &&
      is_contained({"xlstm.proj_up", "xlstm.q_proj", "xlstm.k_proj",
                    "xlstm.v_proj", "xlstm.fgate", "xlstm.igate", "xlstm.zgate",
                    "xlstm.ogate", "ffn.proj_up"},
                   local.drop_back(7)))
    return t.normal(smallInitStd(e));
  if (local == "xlstm.proj_down.weight" || local == "ffn.proj_down.weight")
    return t.normal(wangInitStd(e, numBlocks));
  if (local == "xlstm.learnable_skip")
    return t.fill(1.0);
  if (local == "xlstm.mlstm_cell.igate.bias")
    return t.normal(0.1);
  if (local == "xlstm.mlstm_cell.fgate.bias")
    return t.linspace(3.0, 6.0);

  bool known = block < int64_t(spec.stack.blockMap.size());
  bool isSLSTM = known && spec.blockKind(block) == BlockKind::SLSTM &&
                 spec.stack.slstmBlock;
  bool isMLSTM = known && spec.blockKind(block) == BlockKind::MLSTM &&
                 spec.stack.mlstmBlock;
  // Conv1d keeps PyTorch's default: U(+-1/sqrt(fan_in)), fan_in = K.
  if (local == "xlstm.conv1d.conv.weight" ||
      local == "xlstm.conv1d.conv.bias") {
    int64_t k = isSLSTM   ? spec.stack.slstmBlock->slstm.conv1dKernelSize
                : isMLSTM ? spec.stack.mlstmBlock->mlstm.conv1dKernelSize
                          : 0;
    if (k > 0)
      t.uniform(1.0 / std::sqrt(double(k)));
    return;
  }
  if (!isSLSTM)
    return;
  const SLSTMLayerConfig &c = spec.stack.slstmBlock->slstm;
  if (local == "xlstm." + kKernelSuffix.str()) {
    // Zeros or i.i.d. uniform: the same in either layout.
    if (c.recurrentWeightInit == config::RecurrentWeightInit::Standard)
      t.uniform(1.0 / std::sqrt(double(c.hiddenSize)));
    return;
  }
  if (local == "xlstm." + kBiasSuffix.str())
    initSLSTMBias(c, block, numBlocks, t);
}

/// xLSTM-7B, HF `_init_weights` (paper-style, 7B spec §7). Biases are 0 and
/// norm weights 1 unless listed.
void initLarge(const ModelSpec &spec, const ParamDesc &p, TensorInit &t) {
  const config::LargeConfig &c = spec.large;
  int64_t e = c.embeddingDim, nh = c.numHeads;
  double small = smallInitStd(e);
  auto [block, local] = splitBlockName(p.name);
  if (local == "embedding.weight" || local == "embeddings.weight" ||
      local == "lm_head.weight")
    return t.normal(small);
  // norm_mlstm, norm_ffn, mlstm_layer.multihead_norm, out_norm.
  if (local.contains("norm"))
    return t.fill(local.ends_with(".weight") ? 1.0 : 0.0);
  if (local == "mlstm_layer.igate_preact.bias")
    return t.fill(-10.0);
  if (local == "mlstm_layer.fgate_preact.bias")
    return t.linspace(3.0, 6.0);
  if (local == "mlstm_layer.ifgate_preact.bias") { // fused [i; f]
    t.fill(-10.0, 0, nh);
    return t.linspace(3.0, 6.0, nh, 2 * nh);
  }
  if (local.ends_with(".bias") || block < 0)
    return;
  // Every linear whose path contains "gate" gets weight 0 upstream, which
  // also catches ffn.proj_up_gate (a substring-match quirk we keep).
  if (is_contained(
          {"mlstm_layer.igate_preact.weight", "mlstm_layer.fgate_preact.weight",
           "mlstm_layer.ogate_preact.weight",
           "mlstm_layer.ifgate_preact.weight", "ffn.proj_up_gate.weight"},
          local))
    return;
  if (local == "mlstm_layer.out_proj.weight")
    return t.normal(wangInitStd(e, c.numBlocks));
  if (local == "ffn.proj_down.weight")
    return t.normal(wangInitStd(c.ffnDim, c.numBlocks));
  // Fused tensors: the same rules per row block ([q; k; v; o], [gate; up]).
  if (local == "mlstm_layer.qkv_opreact.weight")
    return t.normal(small, 0, (2 * c.qkDim + c.vDim) * e);
  if (local == "ffn.proj_up_gate_z.weight")
    return t.normal(small, c.ffnDim * e);
  // q, k, v, ffn.proj_up.
  t.normal(small);
}

} // namespace

//===----------------------------------------------------------------------===//
// Public API
//===----------------------------------------------------------------------===//

std::vector<double>
xlstm::weights::convertRecurrentKernel(ArrayRef<double> kernel,
                                       int64_t numHeads, int64_t headDim,
                                       SLSTMBackend from, SLSTMBackend to) {
  int64_t nh = numHeads, dh = headDim;
  assert(int64_t(kernel.size()) == nh * 4 * dh * dh && "kernel size mismatch");
  if (int64_t(kernel.size()) != nh * 4 * dh * dh)
    return {};
  std::vector<double> out(kernel.size());
  for (int64_t h = 0; h < nh; ++h)
    for (int64_t i = 0; i < dh; ++i)
      for (int64_t g = 0; g < 4; ++g)
        for (int64_t j = 0; j < dh; ++j)
          out[kernelIndex(to, dh, h, i, g, j)] =
              kernel[kernelIndex(from, dh, h, i, g, j)];
  return out;
}

std::vector<double> xlstm::weights::convertSLSTMBias(ArrayRef<double> bias,
                                                     int64_t numHeads,
                                                     int64_t headDim,
                                                     SLSTMBackend from,
                                                     SLSTMBackend to) {
  int64_t nh = numHeads, dh = headDim;
  assert(int64_t(bias.size()) == nh * 4 * dh && "bias size mismatch");
  if (int64_t(bias.size()) != nh * 4 * dh)
    return {};
  std::vector<double> out(bias.size());
  for (int64_t h = 0; h < nh; ++h)
    for (int64_t g = 0; g < 4; ++g)
      for (int64_t j = 0; j < dh; ++j)
        out[biasIndex(to, nh, dh, h, g, j)] =
            bias[biasIndex(from, nh, dh, h, g, j)];
  return out;
}

ArrayRef<uint8_t> BoundTensor::bytes() const {
  size_t size = elementSize(tensor->dtype);
  return tensor->bytes.slice(offset * size, count * size);
}

std::vector<double> BoundTensor::toF64() const {
  std::vector<double> values(count);
  convertElements(bytes(), tensor->dtype,
                  MutableArrayRef<uint8_t>(
                      reinterpret_cast<uint8_t *>(values.data()),
                      values.size() * sizeof(double)),
                  DType::F64);
  if (!layoutChange)
    return values;
  const LayoutChange &c = *layoutChange;
  return c.isKernel ? convertRecurrentKernel(values, c.numHeads, c.headDim,
                                             c.from, c.to)
                    : convertSLSTMBias(values, c.numHeads, c.headDim, c.from,
                                       c.to);
}

void BoundTensor::encode(DType dtype, MutableArrayRef<uint8_t> out) const {
  assert(out.size() == size_t(count) * elementSize(dtype) && "wrong size");
  if (!layoutChange)
    return convertElements(bytes(), tensor->dtype, out, dtype);
  // Layout changes are rare and small (sLSTM recurrent kernels): via f64.
  std::vector<double> values = toF64();
  convertElements(ArrayRef<uint8_t>(
                      reinterpret_cast<const uint8_t *>(values.data()),
                      values.size() * sizeof(double)),
                  DType::F64, out, dtype);
}

Expected<std::vector<BoundTensor>>
xlstm::weights::bindCheckpoint(ArrayRef<ParamDesc> params,
                               const Checkpoint &checkpoint,
                               SLSTMBackend modelLayout) {
  std::vector<std::string> problems;
  SLSTMBackend fileLayout = modelLayout;
  const auto &meta = checkpoint.metadata();
  if (auto it = meta.find("slstm_layout"); it != meta.end()) {
    if (it->second == "vanilla")
      fileLayout = SLSTMBackend::Vanilla;
    else if (it->second == "cuda")
      fileLayout = SLSTMBackend::Cuda;
    else
      problems.push_back("metadata slstm_layout is '" + it->second +
                         "', expected 'vanilla' or 'cuda'");
  }

  StringMap<const ParamDesc *> byName;
  for (const ParamDesc &p : params)
    byName.try_emplace(p.name, &p);
  StringSet<> used;
  std::vector<BoundTensor> bound;
  bound.reserve(params.size());
  for (const ParamDesc &p : params) {
    std::optional<BoundTensor> b = bindOne(p, checkpoint, byName, fileLayout,
                                           modelLayout, used, problems);
    bound.push_back(b.value_or(BoundTensor()));
  }
  for (const TensorView *t : checkpoint.tensors())
    if (!used.contains(t->name))
      problems.push_back("unexpected tensor '" + t->name + "' (shape " +
                         t->shapeString() + ", " + toString(t->dtype).str() +
                         ") is not a parameter of this model");
  if (problems.empty())
    return std::move(bound);

  // Problems of a sharded checkpoint name the shard of the tensor.
  auto where = [&](StringRef problem) -> std::string {
    if (checkpoint.numShards() < 2)
      return checkpoint.name().str();
    size_t q = problem.find('\'');
    if (q != StringRef::npos) {
      StringRef quoted = problem.drop_front(q + 1).take_until(
          [](char c) { return c == '\''; });
      if (const TensorView *t = checkpoint.find(quoted))
        return checkpoint.shardOf(*t).str();
    }
    return checkpoint.name().str();
  };
  std::string msg;
  raw_string_ostream os(msg);
  for (auto [i, problem] : enumerate(problems)) {
    if (i == kMaxProblems) {
      os << "\n"
         << checkpoint.name() << ": ... and " << problems.size() - kMaxProblems
         << " more problems";
      break;
    }
    os << (i ? "\n" : "") << where(problem) << ": " << problem;
  }
  return createStringError(inconvertibleErrorCode(), msg);
}

Expected<ParamValues>
xlstm::weights::bindParameters(ArrayRef<ParamDesc> params,
                               const Checkpoint &checkpoint,
                               SLSTMBackend modelLayout) {
  Expected<std::vector<BoundTensor>> bound =
      bindCheckpoint(params, checkpoint, modelLayout);
  if (!bound)
    return bound.takeError();
  ParamValues values;
  values.reserve(bound->size());
  for (const BoundTensor &b : *bound)
    values.push_back(b.toF64());
  return std::move(values);
}

Expected<ParamValues>
xlstm::weights::bindParameters(ArrayRef<ParamDesc> params,
                               const SafetensorsFile &file,
                               SLSTMBackend modelLayout) {
  return bindParameters(params, Checkpoint::view(file), modelLayout);
}

ParamValues xlstm::weights::initParameters(const ModelSpec &spec,
                                           ArrayRef<ParamDesc> params,
                                           uint64_t seed) {
  ParamValues values;
  values.reserve(params.size());
  for (const ParamDesc &p : params) {
    std::vector<double> v(numElements(p.shape), 0.0);
    TensorInit t{v, SeededRandom(seed, p.name)};
    if (spec.isLarge())
      initLarge(spec, p, t);
    else
      initStack(spec, p, t);
    values.push_back(std::move(v));
  }
  return values;
}

Error xlstm::weights::writeParameters(StringRef path,
                                      ArrayRef<ParamDesc> params,
                                      const ParamValues &values, DType dtype,
                                      SLSTMBackend layout) {
  if (values.size() != params.size())
    return createStringError(inconvertibleErrorCode(),
                             path + ": " + Twine(values.size()) +
                                 " value vectors for " + Twine(params.size()) +
                                 " parameters");
  std::vector<OwnedTensor> tensors;
  tensors.reserve(params.size());
  for (auto [p, v] : zip(params, values)) {
    if (int64_t(v.size()) != numElements(p.shape))
      return createStringError(inconvertibleErrorCode(),
                               path + ": parameter '" + p.name + "' has " +
                                   Twine(v.size()) + " values, expected " +
                                   Twine(numElements(p.shape)) + " (shape " +
                                   shapeString(p.shape) + ")");
    tensors.push_back(OwnedTensor::fromF64(
        p.name, std::vector<int64_t>(p.shape.begin(), p.shape.end()), v,
        dtype));
  }
  return writeSafetensors(
      path, tensors,
      {{"format", "pt"}, {"slstm_layout", toString(layout).str()}});
}

config::SLSTMBackend
xlstm::weights::checkpointLayout(const config::ModelSpec &spec) {
  return spec.isLarge() || !spec.stack.slstmBlock
             ? config::SLSTMBackend::Cuda
             : spec.stack.slstmBlock->slstm.backend;
}

llvm::Expected<xlstm::weights::ParamValues>
xlstm::weights::loadOrInitParameters(const config::ModelSpec &spec,
                                     llvm::ArrayRef<ParamDesc> params,
                                     llvm::StringRef path, uint64_t seed) {
  if (!path.empty()) {
    llvm::Expected<Checkpoint> checkpoint = Checkpoint::open(path);
    if (!checkpoint)
      return checkpoint.takeError();
    return bindParameters(params, *checkpoint, checkpointLayout(spec));
  }
  ParamValues values = initParameters(spec, params, seed);
  for (std::vector<double> &v : values)
    for (double &x : v)
      x = static_cast<float>(x);
  return values;
}
