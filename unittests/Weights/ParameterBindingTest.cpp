//===- ParameterBindingTest.cpp - Tests of binding, layouts and init ------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Weights/ParameterBinding.h"

#include "WeightsTestUtil.h"

#include "xlstm/Config/ConfigParser.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <numeric>

using namespace llvm;
using namespace xlstm::config;
using namespace xlstm::weights;
using namespace xlstm::weights::test;

namespace {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// The state_dict table of `spec`, written from spec xlstm-architecture §c and
/// xlstm-large-7b §6 independently of the frontend (which needs MLIR).
std::vector<ParamDesc> paramsFor(const ModelSpec &spec) {
  std::vector<ParamDesc> ps;
  auto add = [&](std::string name, SmallVector<int64_t, 4> shape,
                 SmallVector<std::string, 1> aliases = {}) {
    ps.push_back({std::move(name), std::move(shape), std::move(aliases)});
  };
  auto linear = [&](const std::string &prefix, int64_t out, int64_t in,
                    bool bias) {
    add(prefix + ".weight", {out, in});
    if (bias)
      add(prefix + ".bias", {out});
  };
  int64_t e = spec.embeddingDim();
  if (spec.isLarge()) {
    const LargeConfig &c = spec.large;
    bool b = c.useBias, fused = c.weightMode == "fused";
    auto norm = [&](const std::string &prefix, int64_t dim) {
      add(prefix + ".weight", {dim});
      if (b)
        add(prefix + ".bias", {dim});
    };
    add("embedding.weight", {c.vocabSize, e});
    for (int64_t i = 0; i < c.numBlocks; ++i) {
      std::string p = "backbone.blocks." + std::to_string(i) + ".";
      norm(p + "norm_mlstm", e);
      if (fused) {
        linear(p + "mlstm_layer.qkv_opreact", 2 * c.qkDim + 2 * c.vDim, e, b);
        linear(p + "mlstm_layer.ifgate_preact", 2 * c.numHeads, e, true);
      } else {
        linear(p + "mlstm_layer.q", c.qkDim, e, b);
        linear(p + "mlstm_layer.k", c.qkDim, e, b);
        linear(p + "mlstm_layer.v", c.vDim, e, b);
        linear(p + "mlstm_layer.ogate_preact", c.vDim, e, b);
        linear(p + "mlstm_layer.igate_preact", c.numHeads, e, true);
        linear(p + "mlstm_layer.fgate_preact", c.numHeads, e, true);
      }
      norm(p + "mlstm_layer.multihead_norm", c.vDim);
      linear(p + "mlstm_layer.out_proj", e, c.vDim, b);
      norm(p + "norm_ffn", e);
      if (fused) {
        linear(p + "ffn.proj_up_gate_z", 2 * c.ffnDim, e, b);
      } else {
        linear(p + "ffn.proj_up_gate", c.ffnDim, e, b);
        linear(p + "ffn.proj_up", c.ffnDim, e, b);
      }
      linear(p + "ffn.proj_down", e, c.ffnDim, b);
    }
    if (c.addOutNorm)
      norm("backbone.out_norm", e);
    add("lm_head.weight", {c.vocabSize, e});
    return ps;
  }
  const StackConfig &s = spec.stack;
  std::string stack = spec.hasTokens() ? "xlstm_block_stack." : "";
  for (int64_t i = 0; i < s.numBlocks; ++i) {
    std::string p = stack + "blocks." + std::to_string(i) + ".";
    add(p + "xlstm_norm.weight", {e});
    if (spec.blockKind(i) == BlockKind::MLSTM) {
      const MLSTMLayerConfig &m = s.mlstmBlock->mlstm;
      int64_t di = m.innerEmbeddingDim, bs = m.qkvProjBlocksize;
      add(p + "xlstm.learnable_skip", {di});
      linear(p + "xlstm.proj_up", 2 * di, e, m.bias);
      for (const char *proj : {"q_proj", "k_proj", "v_proj"}) {
        add(p + "xlstm." + proj + ".weight", {di / bs, bs, bs});
        if (m.bias)
          add(p + "xlstm." + proj + ".bias", {di});
      }
      add(p + "xlstm.conv1d.conv.weight", {di, 1, m.conv1dKernelSize});
      add(p + "xlstm.conv1d.conv.bias", {di});
      linear(p + "xlstm.mlstm_cell.igate", m.numHeads, 3 * di, true);
      linear(p + "xlstm.mlstm_cell.fgate", m.numHeads, 3 * di, true);
      add(p + "xlstm.mlstm_cell.outnorm.weight", {di});
      linear(p + "xlstm.proj_down", e, di, m.bias);
      continue;
    }
    const SLSTMLayerConfig &l = s.slstmBlock->slstm;
    int64_t nh = l.numHeads, dh = l.headDim();
    if (l.conv1dKernelSize > 0) {
      add(p + "xlstm.conv1d.conv.weight", {e, 1, l.conv1dKernelSize});
      add(p + "xlstm.conv1d.conv.bias", {e});
    }
    for (const char *gate : {"fgate", "igate", "zgate", "ogate"})
      add(p + "xlstm." + gate + ".weight", {nh, dh, dh});
    if (l.backend == SLSTMBackend::Vanilla)
      add(p + "xlstm.slstm_cell._recurrent_kernel_", {nh, 4 * dh, dh});
    else
      add(p + "xlstm.slstm_cell._recurrent_kernel_", {nh, dh, 4 * dh});
    add(p + "xlstm.slstm_cell._bias_", {4 * e});
    if (l.groupNormWeight)
      add(p + "xlstm.group_norm.weight", {e});
    if (const std::optional<FeedForwardConfig> &f = s.slstmBlock->feedforward) {
      add(p + "ffn_norm.weight", {e});
      linear(p + "ffn.proj_up", 2 * f->projUpDim, e, f->bias);
      linear(p + "ffn.proj_down", e, f->projUpDim, f->bias);
    }
  }
  if (s.addPostBlocksNorm)
    add(stack + "post_blocks_norm.weight", {e});
  if (spec.hasTokens()) {
    if (s.tieWeights) {
      add("token_embedding.weight", {s.vocabSize, e}, {"lm_head.weight"});
    } else {
      add("token_embedding.weight", {s.vocabSize, e});
      add("lm_head.weight", {s.vocabSize, e});
    }
  }
  return ps;
}

std::optional<ModelSpec> goldenSpec(StringRef name) {
  return parseModelConfigFile(goldenPath((name + ".yaml").str()), llvm::errs());
}

/// A config for init tests without golden files.
ModelSpec parseSpec(StringRef yaml) {
  std::string errors;
  raw_string_ostream os(errors);
  std::optional<ModelSpec> spec = parseModelConfig(yaml, "test.yaml", os);
  EXPECT_TRUE(spec) << errors;
  return spec.value_or(ModelSpec());
}

/// The README stack (spec §c.2) with the given sLSTM backend.
ModelSpec readmeStack(StringRef backend = "cuda") {
  return parseSpec(("mlstm_block:\n  mlstm:\n    num_heads: 4\n"
                    "slstm_block:\n  slstm:\n    backend: " +
                    backend +
                    "\n    num_heads: 4\n"
                    "context_length: 256\nnum_blocks: 7\nembedding_dim: 128\n"
                    "slstm_at: [1]\n")
                       .str());
}

const ParamDesc *findParam(ArrayRef<ParamDesc> ps, StringRef name) {
  for (const ParamDesc &p : ps)
    if (p.name == name)
      return &p;
  return nullptr;
}

/// The values of parameter `name`.
const std::vector<double> &valuesOf(ArrayRef<ParamDesc> ps,
                                    const ParamValues &values, StringRef name) {
  const ParamDesc *p = findParam(ps, name);
  EXPECT_TRUE(p) << name.str();
  static const std::vector<double> none;
  return p ? values[p - ps.data()] : none;
}

struct Stats {
  double mean, std;
};
Stats stats(ArrayRef<double> v) {
  double mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
  double var = 0;
  for (double x : v)
    var += (x - mean) * (x - mean);
  return {mean, std::sqrt(var / double(v.size()))};
}

/// Mean within 5 standard errors of 0 and std within `rel` of `std`.
void expectNormal(ArrayRef<double> v, double std, double rel = 0.03) {
  Stats s = stats(v);
  EXPECT_LT(std::abs(s.mean), 5 * std / std::sqrt(double(v.size())));
  EXPECT_NEAR(s.std, std, rel * std);
}

/// Uniform on [-bound, bound]: inside it and with std bound/sqrt(3).
void expectUniform(ArrayRef<double> v, double bound, double rel = 0.05) {
  for (double x : v)
    ASSERT_LE(std::abs(x), bound);
  Stats s = stats(v);
  EXPECT_LT(std::abs(s.mean), 5 * bound / std::sqrt(3.0 * double(v.size())));
  EXPECT_NEAR(s.std, bound / std::sqrt(3.0), rel * bound / std::sqrt(3.0));
}

void expectAll(ArrayRef<double> v, double value) {
  ASSERT_FALSE(v.empty());
  for (double x : v)
    ASSERT_EQ(x, value);
}

std::vector<double> iota(size_t n, double start = 0) {
  std::vector<double> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

//===----------------------------------------------------------------------===//
// sLSTM layouts
//===----------------------------------------------------------------------===//

constexpr SLSTMBackend kVanilla = SLSTMBackend::Vanilla;
constexpr SLSTMBackend kCuda = SLSTMBackend::Cuda;

TEST(SLSTMLayout, KernelHandComputed) {
  // NH 2, DH 2; vanilla (2, 8, 2) holds int[h, g*2 + j, i] = R[h, i, g, j],
  // cuda (2, 2, 8) holds int[h, i, g*2 + j]. Value = flat vanilla index.
  std::vector<double> vanilla = iota(32);
  std::vector<double> cuda =
      convertRecurrentKernel(vanilla, 2, 2, kVanilla, kCuda);
  ASSERT_EQ(cuda.size(), 32u);
  // R[1, 0, 2, 1]: vanilla [1, 5, 0] = 16 + 10 + 0; cuda [1, 0, 5] = 16 + 5.
  EXPECT_EQ(cuda[21], 26);
  // R[0, 1, 3, 0]: vanilla [0, 6, 1] = 13; cuda [0, 1, 6] = 14.
  EXPECT_EQ(cuda[14], 13);
  // R[1, 1, 0, 1]: vanilla [1, 1, 1] = 16 + 2 + 1; cuda [1, 1, 1] = 16 + 8 + 1.
  EXPECT_EQ(cuda[25], 19);
  EXPECT_EQ(cuda[0], 0);
  EXPECT_EQ(cuda[31], 31);
  EXPECT_EQ(convertRecurrentKernel(cuda, 2, 2, kCuda, kVanilla), vanilla);
}

TEST(SLSTMLayout, SingleHeadKernelIsATranspose) {
  int64_t dh = 3;
  std::vector<double> vanilla = iota(4 * dh * dh); // (1, 4DH, DH)
  std::vector<double> cuda =
      convertRecurrentKernel(vanilla, 1, dh, kVanilla, kCuda);
  for (int64_t r = 0; r < 4 * dh; ++r)
    for (int64_t c = 0; c < dh; ++c)
      EXPECT_EQ(cuda[c * 4 * dh + r], vanilla[r * dh + c]);
}

TEST(SLSTMLayout, BiasHandComputed) {
  // NH 2, DH 3: vanilla [g*6 + h*3 + j], cuda [h*12 + g*3 + j].
  std::vector<double> b(24);
  for (int h = 0; h < 2; ++h)
    for (int g = 0; g < 4; ++g)
      for (int j = 0; j < 3; ++j)
        b[g * 6 + h * 3 + j] = 100 * h + 10 * g + j;
  std::vector<double> cuda = convertSLSTMBias(b, 2, 3, kVanilla, kCuda);
  EXPECT_EQ(cuda[12 + 3 + 2], 112); // b[1, f, 2]
  EXPECT_EQ(cuda[0 + 9 + 1], 31);   // b[0, o, 1]
  EXPECT_EQ(b[6 + 3 + 2], 112);
  for (int h = 0; h < 2; ++h)
    for (int g = 0; g < 4; ++g)
      for (int j = 0; j < 3; ++j)
        EXPECT_EQ(cuda[h * 12 + g * 3 + j], 100 * h + 10 * g + j);
  EXPECT_EQ(convertSLSTMBias(cuda, 2, 3, kCuda, kVanilla), b);
}

TEST(SLSTMLayout, RoundTripsAndSameLayoutIsIdentity) {
  std::vector<double> k = iota(3 * 4 * 5 * 5, -7), b = iota(3 * 4 * 5, 0.5);
  for (SLSTMBackend from : {kVanilla, kCuda}) {
    SLSTMBackend to = from == kVanilla ? kCuda : kVanilla;
    EXPECT_EQ(convertRecurrentKernel(k, 3, 5, from, from), k);
    EXPECT_EQ(convertSLSTMBias(b, 3, 5, from, from), b);
    EXPECT_NE(convertRecurrentKernel(k, 3, 5, from, to), k);
    EXPECT_NE(convertSLSTMBias(b, 3, 5, from, to), b);
    EXPECT_EQ(convertRecurrentKernel(convertRecurrentKernel(k, 3, 5, from, to),
                                     3, 5, to, from),
              k);
    EXPECT_EQ(
        convertSLSTMBias(convertSLSTMBias(b, 3, 5, from, to), 3, 5, to, from),
        b);
  }
}

//===----------------------------------------------------------------------===//
// Binding golden files
//===----------------------------------------------------------------------===//

class GoldenBinding : public ::testing::TestWithParam<const char *> {};

TEST_P(GoldenBinding, BindsEveryTensorUnchangedInTheFileLayout) {
  SKIP_WITHOUT_GOLDEN();
  std::optional<ModelSpec> spec = goldenSpec(GetParam());
  ASSERT_TRUE(spec);
  Expected<SafetensorsFile> file = SafetensorsFile::open(
      goldenPath(std::string(GetParam()) + ".weights.safetensors"));
  ASSERT_TRUE(bool(file)) << toString(file.takeError());
  std::vector<ParamDesc> params = paramsFor(*spec);
  SLSTMBackend layout =
      spec->stack.slstmBlock ? spec->stack.slstmBlock->slstm.backend : kCuda;
  Expected<ParamValues> values = bindParameters(params, *file, layout);
  ASSERT_TRUE(bool(values)) << toString(values.takeError());
  ASSERT_EQ(values->size(), params.size());
  EXPECT_EQ(params.size(), file->tensors().size());
  for (auto [p, v] : llvm::zip(params, *values))
    EXPECT_EQ(v, toF64(*file->find(p.name))) << p.name;
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldenBinding,
                         ::testing::Values("stack_readme", "lm_readme_v1024",
                                           "parity_xlstm01", "parity_xlstm10",
                                           "parity_xlstm11", "mlstm_variant",
                                           "slstm_variant", "large_mini"));

/// Binds `name`'s weights into a model with the other sLSTM layout and checks
/// the converted kernel and bias against the file's.
void checkConvertedBinding(StringRef name, SLSTMBackend fileLayout) {
  std::optional<ModelSpec> spec = goldenSpec(name);
  ASSERT_TRUE(spec);
  SLSTMLayerConfig &slstm = spec->stack.slstmBlock->slstm;
  ASSERT_EQ(slstm.backend, fileLayout);
  SLSTMBackend model = fileLayout == kCuda ? kVanilla : kCuda;
  slstm.backend = model;
  std::vector<ParamDesc> params = paramsFor(*spec);
  Expected<SafetensorsFile> file =
      SafetensorsFile::open(goldenPath((name + ".weights.safetensors").str()));
  ASSERT_TRUE(bool(file)) << toString(file.takeError());
  Expected<ParamValues> values = bindParameters(params, *file, model);
  ASSERT_TRUE(bool(values)) << toString(values.takeError());
  int64_t nh = slstm.numHeads, dh = slstm.headDim();
  int converted = 0;
  for (auto [p, v] : llvm::zip(params, *values)) {
    std::vector<double> stored = toF64(*file->find(p.name));
    StringRef n = p.name;
    if (n.ends_with("_recurrent_kernel_")) {
      EXPECT_EQ(file->find(p.name)->shapeString(),
                fileLayout == kCuda ? "4x32x128" : "2x192x48");
      EXPECT_NE(v, stored);
      EXPECT_EQ(v, convertRecurrentKernel(stored, nh, dh, fileLayout, model));
      EXPECT_EQ(convertRecurrentKernel(v, nh, dh, model, fileLayout), stored);
      ++converted;
    } else if (n.ends_with("_bias_")) {
      EXPECT_NE(v, stored);
      EXPECT_EQ(v, convertSLSTMBias(stored, nh, dh, fileLayout, model));
      EXPECT_EQ(convertSLSTMBias(v, nh, dh, model, fileLayout), stored);
      ++converted;
    } else {
      EXPECT_EQ(v, stored) << p.name;
    }
  }
  EXPECT_GE(converted, 2);
}

TEST(GoldenConversion, StackReadmeCudaFileIntoVanillaModel) {
  SKIP_WITHOUT_GOLDEN();
  checkConvertedBinding("stack_readme", kCuda);
}

TEST(GoldenConversion, SLSTMVariantVanillaFileIntoCudaModel) {
  SKIP_WITHOUT_GOLDEN();
  checkConvertedBinding("slstm_variant", kVanilla);
}

//===----------------------------------------------------------------------===//
// Binding errors on crafted files
//===----------------------------------------------------------------------===//

class Binding : public ScratchDirTest {
protected:
  /// Writes `tensors` (with `metadata`) and opens the file.
  SafetensorsFile
  make(ArrayRef<OwnedTensor> tensors,
       const std::map<std::string, std::string> &metadata = {}) {
    file = path("w.safetensors");
    EXPECT_EQ(errorText(writeSafetensors(file, tensors, metadata)), "");
    Expected<SafetensorsFile> f = SafetensorsFile::open(file);
    if (f)
      return std::move(*f);
    ADD_FAILURE() << toString(f.takeError());
    // An empty but valid file keeps the caller going.
    std::string empty("\x02\0\0\0\0\0\0\0{}", 10);
    return std::move(*SafetensorsFile::fromBuffer(
        MemoryBuffer::getMemBufferCopy(empty, "empty")));
  }
  /// The binding error of `params` against `f` ("" on success), with the
  /// file path shortened to "W".
  std::string bindError(ArrayRef<ParamDesc> params, const SafetensorsFile &f,
                        SLSTMBackend layout = kCuda) {
    Expected<ParamValues> v = bindParameters(params, f, layout);
    if (v)
      return "";
    std::string msg = toString(v.takeError());
    for (size_t pos; (pos = msg.find(file)) != std::string::npos;)
      msg.replace(pos, file.size(), "W");
    return msg;
  }
  static OwnedTensor tensor(std::string name, std::vector<int64_t> shape,
                            DType dtype = DType::F32, double start = 0) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return OwnedTensor::fromF64(std::move(name), std::move(shape),
                                iota(n, start), dtype);
  }

  std::string file;
};

TEST_F(Binding, ConvertsEveryFloatDType) {
  SafetensorsFile f =
      make({tensor("a", {2, 2}, DType::BF16), tensor("b", {3}, DType::F16, 1),
            tensor("c", {}, DType::F64, 5)});
  Expected<ParamValues> v = bindParameters(
      {{"a", {2, 2}, {}}, {"b", {3}, {}}, {"c", {}, {}}}, f, kCuda);
  ASSERT_TRUE(bool(v)) << toString(v.takeError());
  EXPECT_EQ((*v)[0], (std::vector<double>{0, 1, 2, 3}));
  EXPECT_EQ((*v)[1], (std::vector<double>{1, 2, 3}));
  EXPECT_EQ((*v)[2], (std::vector<double>{5}));
}

TEST_F(Binding, ReportsEveryProblemTogether) {
  SafetensorsFile f = make({tensor("x", {4, 3}), tensor("ids", {5}, DType::I64),
                            tensor("foo", {3, 4})});
  std::vector<ParamDesc> params = {{"blocks.0.xlstm_norm.weight", {128}, {}},
                                   {"x", {3, 4}, {}},
                                   {"ids", {5}, {}}};
  EXPECT_EQ(bindError(params, f),
            "W: missing tensor 'blocks.0.xlstm_norm.weight' (expected shape "
            "128, a float dtype)\n"
            "W: tensor 'x' has shape 4x3, expected 3x4\n"
            "W: tensor 'ids' has dtype I64, expected a floating-point dtype "
            "(F32, BF16, F16, F64)\n"
            "W: unexpected tensor 'foo' (shape 3x4, F32) is not a parameter "
            "of this model");
}

TEST_F(Binding, CapsTheListOfProblems) {
  SafetensorsFile f = make({});
  std::vector<ParamDesc> params;
  for (int i = 0; i < 30; ++i)
    params.push_back({"p" + std::to_string(i), {2}, {}});
  std::string msg = bindError(params, f);
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n'), 20);
  EXPECT_NE(msg.find("missing tensor 'p19'"), std::string::npos);
  EXPECT_EQ(msg.find("'p20'"), std::string::npos);
  EXPECT_TRUE(StringRef(msg).ends_with("\nW: ... and 10 more problems"));
}

TEST_F(Binding, AliasesOfTiedWeights) {
  ParamDesc tied = {"token_embedding.weight", {3, 2}, {"lm_head.weight"}};
  // Stored once under either name.
  for (const char *name : {"token_embedding.weight", "lm_head.weight"}) {
    SafetensorsFile f = make({tensor(name, {3, 2})});
    Expected<ParamValues> v = bindParameters({tied}, f, kCuda);
    ASSERT_TRUE(bool(v)) << toString(v.takeError());
    EXPECT_EQ(v->front(), iota(6));
  }
  // Both copies present and equal (an untied-style file of a tied model).
  SafetensorsFile same = make({tensor("token_embedding.weight", {3, 2}),
                               tensor("lm_head.weight", {3, 2})});
  EXPECT_EQ(bindError({tied}, same), "");
  SafetensorsFile differ =
      make({tensor("token_embedding.weight", {3, 2}),
            tensor("lm_head.weight", {3, 2}, DType::F32, 1)});
  EXPECT_EQ(bindError({tied}, differ),
            "W: tensors 'token_embedding.weight' and 'lm_head.weight' name the "
            "same parameter but differ (tied copies must be equal)");
  SafetensorsFile shape = make({tensor("token_embedding.weight", {3, 2}),
                                tensor("lm_head.weight", {2, 3})});
  EXPECT_EQ(bindError({tied}, shape),
            "W: tensor 'lm_head.weight' has shape 2x3, expected 3x2");
  SafetensorsFile none = make({});
  EXPECT_EQ(bindError({tied}, none),
            "W: missing tensor 'token_embedding.weight' (or 'lm_head.weight') "
            "(expected shape 3x2, a float dtype)");
}

TEST_F(Binding, SLSTMLayoutMetadata) {
  std::vector<ParamDesc> vanilla = {
      {"blocks.0.xlstm.slstm_cell._recurrent_kernel_", {2, 8, 2}, {}},
      {"blocks.0.xlstm.slstm_cell._bias_", {16}, {}}};
  std::vector<ParamDesc> cuda = {
      {"blocks.0.xlstm.slstm_cell._recurrent_kernel_", {2, 2, 8}, {}},
      {"blocks.0.xlstm.slstm_cell._bias_", {16}, {}}};
  OwnedTensor kCudaT = tensor(cuda[0].name, {2, 2, 8});
  OwnedTensor bias = tensor(cuda[1].name, {16});

  // No metadata: stored in the model's layout.
  SafetensorsFile plain = make({kCudaT, bias});
  EXPECT_EQ(bindError(cuda, plain, kCuda), "");
  EXPECT_EQ(bindError(vanilla, plain, kVanilla),
            "W: tensor 'blocks.0.xlstm.slstm_cell._recurrent_kernel_' has "
            "shape 2x2x8, expected 2x8x2");

  SafetensorsFile tagged = make({kCudaT, bias}, {{"slstm_layout", "cuda"}});
  Expected<ParamValues> v = bindParameters(vanilla, tagged, kVanilla);
  ASSERT_TRUE(bool(v)) << toString(v.takeError());
  EXPECT_EQ((*v)[0], convertRecurrentKernel(iota(32), 2, 2, kCuda, kVanilla));
  EXPECT_EQ((*v)[1], convertSLSTMBias(iota(16), 2, 2, kCuda, kVanilla));

  // The file says cuda but holds a vanilla-shaped kernel.
  SafetensorsFile lying = make({tensor(vanilla[0].name, {2, 8, 2}), bias},
                               {{"slstm_layout", "cuda"}});
  EXPECT_EQ(bindError(vanilla, lying, kVanilla),
            "W: tensor 'blocks.0.xlstm.slstm_cell._recurrent_kernel_' has "
            "shape 2x8x2, expected 2x2x8 (the file's slstm_layout is cuda)");

  SafetensorsFile unknown = make({kCudaT, bias}, {{"slstm_layout", "triton"}});
  EXPECT_EQ(bindError(cuda, unknown),
            "W: metadata slstm_layout is 'triton', expected 'vanilla' or "
            "'cuda'");

  // A bias needs its block's kernel for NH and DH.
  SafetensorsFile biasOnly = make({bias}, {{"slstm_layout", "vanilla"}});
  EXPECT_EQ(bindError({cuda[1]}, biasOnly, kCuda),
            "W: cannot convert 'blocks.0.xlstm.slstm_cell._bias_' from the "
            "vanilla to the cuda layout: no parameter "
            "'blocks.0.xlstm.slstm_cell._recurrent_kernel_' gives its head "
            "count");
  std::vector<ParamDesc> badKernel = {{cuda[0].name, {2, 3, 8}, {}}};
  SafetensorsFile k =
      make({tensor(cuda[0].name, {2, 3, 8})}, {{"slstm_layout", "vanilla"}});
  EXPECT_EQ(bindError(badKernel, k, kCuda),
            "W: cannot convert 'blocks.0.xlstm.slstm_cell._recurrent_kernel_' "
            "from the vanilla to the cuda layout: expected kernel shape 2x3x8 "
            "is not a cuda-layout kernel");
  std::vector<ParamDesc> badBias = {cuda[0], {cuda[1].name, {12}, {}}};
  SafetensorsFile kb =
      make({tensor(cuda[0].name, {2, 8, 2}), tensor(cuda[1].name, {12})},
           {{"slstm_layout", "vanilla"}});
  EXPECT_EQ(bindError(badBias, kb, kCuda),
            "W: cannot convert 'blocks.0.xlstm.slstm_cell._bias_' from the "
            "vanilla to the cuda layout: expected shape 12 does not hold 4 x 2 "
            "heads x 2 values");
}

//===----------------------------------------------------------------------===//
// Initialisation
//===----------------------------------------------------------------------===//

TEST(Init, ReadmeStackFollowsSpecD) {
  ModelSpec spec = readmeStack();
  std::vector<ParamDesc> ps = paramsFor(spec);
  ParamValues v = initParameters(spec, ps, 42);
  ASSERT_EQ(v.size(), ps.size());
  for (auto [p, values] : llvm::zip(ps, v)) {
    int64_t n = 1;
    for (int64_t d : p.shape)
      n *= d;
    EXPECT_EQ(int64_t(values.size()), n) << p.name;
  }
  double small = std::sqrt(2.0 / (5 * 128)), wang = 2.0 / 7 / std::sqrt(128.0);
  auto of = [&](StringRef name) -> const std::vector<double> & {
    return valuesOf(ps, v, name);
  };
  expectNormal(of("blocks.0.xlstm.proj_up.weight"), small);
  expectNormal(of("blocks.0.xlstm.proj_down.weight"), wang);
  expectNormal(of("blocks.2.xlstm.q_proj.weight"), small, 0.1);
  expectUniform(of("blocks.0.xlstm.conv1d.conv.weight"), 0.5, 0.1);
  expectUniform(of("blocks.1.xlstm.conv1d.conv.bias"), 0.5, 0.2);
  expectAll(of("blocks.0.xlstm.learnable_skip"), 1.0);
  expectAll(of("blocks.0.xlstm_norm.weight"), 0.0);
  expectAll(of("blocks.0.xlstm.mlstm_cell.outnorm.weight"), 0.0);
  expectAll(of("blocks.0.xlstm.mlstm_cell.igate.weight"), 0.0);
  expectAll(of("blocks.0.xlstm.mlstm_cell.fgate.weight"), 0.0);
  expectAll(of("post_blocks_norm.weight"), 0.0);
  EXPECT_EQ(of("blocks.3.xlstm.mlstm_cell.fgate.bias"),
            (std::vector<double>{3, 4, 5, 6}));
  const std::vector<double> &igateBias =
      of("blocks.3.xlstm.mlstm_cell.igate.bias");
  for (double b : igateBias)
    EXPECT_TRUE(b != 0 && std::abs(b) < 0.6);
  // sLSTM block 1 and its FFN (P = 192).
  for (const char *gate : {"fgate", "igate", "zgate", "ogate"})
    expectNormal(of(("blocks.1.xlstm." + Twine(gate) + ".weight").str()), small,
                 0.05);
  expectAll(of("blocks.1.xlstm.slstm_cell._recurrent_kernel_"), 0.0);
  expectAll(of("blocks.1.xlstm.group_norm.weight"), 0.0);
  expectAll(of("blocks.1.ffn_norm.weight"), 0.0);
  expectNormal(of("blocks.1.ffn.proj_up.weight"), small);
  expectNormal(of("blocks.1.ffn.proj_down.weight"), wang);
  // Powerlaw f-gate bias of block 1 of 7 in the cuda layout (head-major).
  const std::vector<double> &bias = of("blocks.1.xlstm.slstm_cell._bias_");
  for (int64_t h = 0; h < 4; ++h)
    for (int64_t g = 0; g < 4; ++g)
      for (int64_t j = 0; j < 32; ++j) {
        double expected =
            g == 1 ? 5 - 12 * std::pow(j / 31.0, 0.3 + 1.3 / 6) : 0.0;
        EXPECT_NEAR(bias[h * 128 + g * 32 + j], expected, 1e-12);
      }
}

TEST(Init, PowerlawBiasSpecValuesInBothLayouts) {
  // Block 1 of 7, DH 16 (E 64, 4 heads): 5.0, 2.038, 0.763, ..., -7.0.
  for (StringRef backend : {"vanilla", "cuda"}) {
    ModelSpec spec = parseSpec(
        ("slstm_block:\n  slstm:\n    num_heads: 4\n    backend: " + backend +
         "\nnum_blocks: 7\nembedding_dim: 64\nslstm_at: all\n")
            .str());
    std::vector<ParamDesc> ps = paramsFor(spec);
    ParamValues v = initParameters(spec, ps, 0);
    const std::vector<double> &bias =
        valuesOf(ps, v, "blocks.1.xlstm.slstm_cell._bias_");
    ASSERT_EQ(bias.size(), 256u);
    for (int64_t h = 0; h < 4; ++h) {
      auto f = [&](int64_t j) {
        return backend == "vanilla" ? bias[1 * 64 + h * 16 + j]
                                    : bias[h * 64 + 16 + j];
      };
      EXPECT_EQ(f(0), 5.0);
      EXPECT_NEAR(f(1), 2.038, 5e-4);
      EXPECT_NEAR(f(2), 0.763, 5e-4);
      EXPECT_DOUBLE_EQ(f(15), -7.0);
    }
    double sum = 0;
    for (double b : bias)
      sum += std::abs(b);
    double fSum = 0;
    for (int64_t j = 0; j < 16; ++j)
      fSum += std::abs(5 - 12 * std::pow(j / 15.0, 0.3 + 1.3 / 6));
    EXPECT_NEAR(sum, 4 * fSum, 1e-9); // the other gates are zero
    // Block 0 (r = 0) and block 6 (r = 1) use exponents 0.3 and 1.6.
    const std::vector<double> &b0 =
        valuesOf(ps, v, "blocks.0.xlstm.slstm_cell._bias_");
    const std::vector<double> &b6 =
        valuesOf(ps, v, "blocks.6.xlstm.slstm_cell._bias_");
    size_t at = backend == "vanilla" ? 64 + 1 : 16 + 1;
    EXPECT_NEAR(b0[at], 5 - 12 * std::pow(1 / 15.0, 0.3), 1e-12);
    EXPECT_NEAR(b6[at], 5 - 12 * std::pow(1 / 15.0, 1.6), 1e-12);
  }
}

TEST(Init, SLSTMVariantSmallInitBiasAndStandardKernel) {
  ModelSpec spec = parseSpec("slstm_block:\n  slstm:\n    backend: vanilla\n"
                             "    num_heads: 2\n    conv1d_kernel_size: 0\n"
                             "    bias_init: small_init\n"
                             "    recurrent_weight_init: standard\n"
                             "num_blocks: 2\nembedding_dim: 96\n");
  std::vector<ParamDesc> ps = paramsFor(spec);
  ParamValues v = initParameters(spec, ps, 7);
  expectUniform(valuesOf(ps, v, "blocks.0.xlstm.slstm_cell._recurrent_kernel_"),
                1 / std::sqrt(96.0));
  const std::vector<double> &bias =
      valuesOf(ps, v, "blocks.1.xlstm.slstm_cell._bias_");
  for (int64_t g = 0; g < 4; ++g)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t j = 0; j < 48; ++j)
        EXPECT_DOUBLE_EQ(bias[g * 96 + h * 48 + j],
                         g == 1 ? 3 + 3 * j / 47.0 : 0.0);
}

TEST(Init, SLSTMStandardAndZerosBias) {
  ModelSpec spec = readmeStack();
  std::vector<ParamDesc> ps = paramsFor(spec);
  StringRef name = "blocks.1.xlstm.slstm_cell._bias_";
  spec.stack.slstmBlock->slstm.biasInit = SLSTMBiasInit::Standard;
  ParamValues v = initParameters(spec, ps, 3);
  expectUniform(valuesOf(ps, v, name), 1 / std::sqrt(128.0), 0.1);
  spec.stack.slstmBlock->slstm.biasInit = SLSTMBiasInit::Zeros;
  v = initParameters(spec, ps, 3);
  expectAll(valuesOf(ps, v, name), 0.0);
}

TEST(Init, LMEmbeddingHeadAndUnknownNames) {
  ModelSpec spec = readmeStack();
  spec.family = ModelFamily::LMModel;
  spec.stack.vocabSize = 1024;
  std::vector<ParamDesc> ps = paramsFor(spec);
  ps.push_back({"not.a.parameter", {7}, {}});
  ParamValues v = initParameters(spec, ps, 5);
  double small = std::sqrt(2.0 / (5 * 128));
  expectNormal(valuesOf(ps, v, "token_embedding.weight"), small, 0.02);
  expectNormal(valuesOf(ps, v, "lm_head.weight"), small, 0.02);
  expectNormal(
      valuesOf(ps, v, "xlstm_block_stack.blocks.0.xlstm.proj_up.weight"),
      small);
  EXPECT_EQ(
      valuesOf(ps, v, "xlstm_block_stack.blocks.3.xlstm.mlstm_cell.fgate.bias"),
      (std::vector<double>{3, 4, 5, 6}));
  expectAll(valuesOf(ps, v, "not.a.parameter"), 0.0);
}

TEST(Init, DeterministicPerSeedAndPerName) {
  ModelSpec spec = readmeStack();
  std::vector<ParamDesc> ps = paramsFor(spec);
  ParamValues a = initParameters(spec, ps, 1), b = initParameters(spec, ps, 1);
  ParamValues c = initParameters(spec, ps, 2);
  EXPECT_EQ(a, b);
  const ParamDesc *up = findParam(ps, "blocks.0.xlstm.proj_up.weight");
  EXPECT_NE(valuesOf(ps, a, up->name), valuesOf(ps, c, up->name));
  // A tensor's values do not depend on the other parameters.
  ParamValues alone = initParameters(spec, {*up}, 1);
  EXPECT_EQ(alone.front(), valuesOf(ps, a, up->name));
  // Different tensors of the same shape get different streams.
  EXPECT_NE(valuesOf(ps, a, "blocks.0.xlstm.proj_up.weight"),
            valuesOf(ps, a, "blocks.2.xlstm.proj_up.weight"));
  // Pin a few values: a change of the generator must be deliberate.
  std::vector<double> pinned = initParameters(spec, {*up}, 0).front();
  std::string text;
  raw_string_ostream os(text);
  os << format("%.17g %.17g %.17g", pinned[0], pinned[1], pinned[100]);
  EXPECT_EQ(text,
            "0.010795267660275153 0.02980093061359983 -0.022107376304930877");
}

TEST(Init, LargeFollowsHFPaperStyleInit) {
  SKIP_WITHOUT_GOLDEN();
  std::optional<ModelSpec> spec = goldenSpec("large_mini");
  ASSERT_TRUE(spec && spec->isLarge());
  std::vector<ParamDesc> ps = paramsFor(*spec);
  ps.push_back({"backbone.embeddings.weight", {512, 256}, {}}); // HF spelling
  ParamValues v = initParameters(*spec, ps, 9);
  auto of = [&](StringRef name) -> const std::vector<double> & {
    return valuesOf(ps, v, name);
  };
  double small = std::sqrt(2.0 / (5 * 256));
  std::string b = "backbone.blocks.1.";
  expectNormal(of("embedding.weight"), small, 0.02);
  expectNormal(of("backbone.embeddings.weight"), small, 0.02);
  expectNormal(of("lm_head.weight"), small, 0.02);
  expectNormal(of(b + "mlstm_layer.q.weight"), small);
  expectNormal(of(b + "mlstm_layer.k.weight"), small);
  expectNormal(of(b + "mlstm_layer.v.weight"), small);
  expectNormal(of(b + "ffn.proj_up.weight"), small);
  expectNormal(of(b + "mlstm_layer.out_proj.weight"), 2.0 / 2 / 16);
  expectNormal(of(b + "ffn.proj_down.weight"), 2.0 / 2 / std::sqrt(704.0));
  expectAll(of(b + "mlstm_layer.igate_preact.weight"), 0.0);
  expectAll(of(b + "mlstm_layer.fgate_preact.weight"), 0.0);
  expectAll(of(b + "mlstm_layer.ogate_preact.weight"), 0.0);
  expectAll(of(b + "ffn.proj_up_gate.weight"), 0.0); // upstream quirk
  expectAll(of(b + "mlstm_layer.igate_preact.bias"), -10.0);
  EXPECT_EQ(of(b + "mlstm_layer.fgate_preact.bias"),
            (std::vector<double>{3, 6}));
  expectAll(of(b + "norm_mlstm.weight"), 1.0);
  expectAll(of(b + "norm_ffn.weight"), 1.0);
  expectAll(of(b + "mlstm_layer.multihead_norm.weight"), 1.0);
  expectAll(of("backbone.out_norm.weight"), 1.0);
}

TEST(Init, LargeFusedAndBiasesApplyTheRulesPerRowBlock) {
  ModelSpec spec;
  spec.family = ModelFamily::Large;
  LargeConfig &c = spec.large;
  c.embeddingDim = 64;
  c.numHeads = 4;
  c.numBlocks = 3;
  c.vocabSize = 32;
  c.qkDim = 32;
  c.vDim = 64;
  c.qkHeadDim = 8;
  c.vHeadDim = 16;
  c.ffnDim = 192;
  c.useBias = true;
  c.weightMode = "fused";
  std::vector<ParamDesc> ps = paramsFor(spec);
  ParamValues v = initParameters(spec, ps, 11);
  auto of = [&](StringRef name) -> const std::vector<double> & {
    return valuesOf(ps, v, name);
  };
  std::string b = "backbone.blocks.0.";
  ArrayRef<double> qkvo = of(b + "mlstm_layer.qkv_opreact.weight");
  ASSERT_EQ(qkvo.size(), size_t(192 * 64));
  double small = std::sqrt(2.0 / (5 * 64));
  expectNormal(qkvo.take_front(128 * 64), small);
  expectAll(qkvo.drop_front(128 * 64), 0.0); // the o rows
  ArrayRef<double> upGateZ = of(b + "ffn.proj_up_gate_z.weight");
  expectAll(upGateZ.take_front(192 * 64), 0.0); // the gate rows
  expectNormal(upGateZ.drop_front(192 * 64), small);
  expectAll(of(b + "mlstm_layer.ifgate_preact.weight"), 0.0);
  EXPECT_EQ(of(b + "mlstm_layer.ifgate_preact.bias"),
            (std::vector<double>{-10, -10, -10, -10, 3, 4, 5, 6}));
  expectAll(of(b + "mlstm_layer.qkv_opreact.bias"), 0.0);
  expectAll(of(b + "mlstm_layer.out_proj.bias"), 0.0);
  expectAll(of(b + "ffn.proj_down.bias"), 0.0);
  expectAll(of(b + "norm_mlstm.bias"), 0.0);
  expectAll(of("backbone.out_norm.bias"), 0.0);
  expectNormal(of(b + "ffn.proj_down.weight"), 2.0 / 3 / std::sqrt(192.0),
               0.05);
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

using Writing = Binding;

TEST_F(Writing, InitWriteBindRoundTrip) {
  ModelSpec spec = readmeStack();
  spec.family = ModelFamily::LMModel;
  spec.stack.vocabSize = 64;
  spec.stack.tieWeights = true;
  std::vector<ParamDesc> ps = paramsFor(spec);
  ParamValues values = initParameters(spec, ps, 4);
  std::string p = path("init.safetensors");
  ASSERT_EQ(errorText(writeParameters(p, ps, values, DType::F32, kCuda)), "");
  Expected<SafetensorsFile> f = SafetensorsFile::open(p);
  ASSERT_TRUE(bool(f)) << toString(f.takeError());
  EXPECT_EQ(f->metadata(), (std::map<std::string, std::string>{
                               {"format", "pt"}, {"slstm_layout", "cuda"}}));
  EXPECT_EQ(f->tensors().size(), ps.size());
  EXPECT_TRUE(f->find("token_embedding.weight"));
  EXPECT_FALSE(f->find("lm_head.weight")); // tied: stored once
  for (auto [t, param] : llvm::zip(f->tensors(), ps))
    EXPECT_EQ(t.name, param.name); // in parameter order

  Expected<ParamValues> bound = bindParameters(ps, *f, kCuda);
  ASSERT_TRUE(bool(bound)) << toString(bound.takeError());
  for (auto [a, b] : llvm::zip(values, *bound)) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
      ASSERT_EQ(double(float(a[i])), b[i]);
  }

  // The same file bound into a vanilla model converts the sLSTM tensors.
  spec.stack.slstmBlock->slstm.backend = kVanilla;
  std::vector<ParamDesc> vanilla = paramsFor(spec);
  Expected<ParamValues> converted = bindParameters(vanilla, *f, kVanilla);
  ASSERT_TRUE(bool(converted)) << toString(converted.takeError());
  StringRef bias = "xlstm_block_stack.blocks.1.xlstm.slstm_cell._bias_";
  EXPECT_EQ(
      valuesOf(vanilla, *converted, bias),
      convertSLSTMBias(valuesOf(ps, *bound, bias), 4, 32, kCuda, kVanilla));
}

TEST_F(Writing, BF16AndErrors) {
  std::vector<ParamDesc> ps = {{"a", {2}, {}}, {"b", {}, {"c"}}};
  std::string p = path("bf16.safetensors");
  ASSERT_EQ(errorText(writeParameters(p, ps, {{1.00390625, -3}, {0.1}},
                                      DType::BF16, kVanilla)),
            "");
  Expected<SafetensorsFile> f = SafetensorsFile::open(p);
  ASSERT_TRUE(bool(f)) << toString(f.takeError());
  EXPECT_EQ(f->find("a")->dtype, DType::BF16);
  EXPECT_EQ(toF64(*f->find("a")), (std::vector<double>{1.0, -3.0}));
  EXPECT_EQ(toF64(*f->find("b")), std::vector<double>{0.10009765625});
  EXPECT_EQ(f->metadata().at("slstm_layout"), "vanilla");

  EXPECT_EQ(errorText(writeParameters(p, ps, {{1, 2}}, DType::F32, kCuda)),
            p + ": 1 value vectors for 2 parameters");
  EXPECT_EQ(
      errorText(writeParameters(p, ps, {{1, 2, 3}, {4}}, DType::F32, kCuda)),
      p + ": parameter 'a' has 3 values, expected 2 (shape 2)");
  std::string bad = path("missing/dir/x.safetensors");
  EXPECT_EQ(
      errorText(writeParameters(bad, ps, {{1, 2}, {4}}, DType::F32, kCuda))
          .rfind(bad + ": cannot open for writing", 0),
      0u);
}

} // namespace
