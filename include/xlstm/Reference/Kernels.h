//===- Kernels.h - Float64 reference implementations of xLSTM ops -*- C++
//-*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Deliberately plain float64 implementations of what each xlstm op computes,
// written from shared/spec, not from the passes. Activations are
// (B, S, features) row-major. Slow and obviously correct beats fast here.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_REFERENCE_KERNELS_H
#define XLSTM_REFERENCE_KERNELS_H

#include "xlstm/Reference/Tensor.h"

#include <optional>

namespace xlstm::reference {

enum class Act { Gelu, Relu, ReluSquared, Sigmoid, Swish, Selu };
double activate(Act act, double x);
double sigmoid(double x);
double logSigmoid(double x);

/// y = x W^T + b over the last dim; W (O, I); `bias` may be null.
Tensor linear(const Tensor &x, const Tensor &w, const Tensor *bias);
/// Block-diagonal linear; W (NB, O, I), bias (NB * O) or null.
Tensor headwiseLinear(const Tensor &x, const Tensor &w, const Tensor *bias);

/// Causal depthwise conv over (B, S, D) with weight (D, K). `state` holds
/// the K-1 inputs before x (B, K-1, D) or is null (zeros); `finalState`, if
/// set, receives the last K-1 inputs of concat(state, x).
Tensor causalConv1d(const Tensor &x, const Tensor &w, const Tensor *bias,
                    const Tensor *state = nullptr,
                    Tensor *finalState = nullptr);

/// LayerNorm over the last dim of `x` split into `groups` equal groups
/// (groups = 1: plain LayerNorm; groups = NH: multi-head norm). The scale is
/// `w` or `1 + w` (onePlusWeight); null weight/bias mean 1/0.
Tensor groupLayerNorm(const Tensor &x, int64_t groups, const Tensor *w,
                      const Tensor *bias, double eps, bool onePlusWeight);
Tensor rmsNorm(const Tensor &x, const Tensor *w, const Tensor *bias,
               double eps);
Tensor softCap(const Tensor &x, double cap);
Tensor gatedFFN(const Tensor &x, const Tensor &gateW, const Tensor &upW,
                const Tensor &downW, const Tensor *gateB, const Tensor *upB,
                const Tensor *downB, Act act);

/// mLSTM cell state: C (B, NH, DHQK, DHV), n (B, NH, DHQK), m (B, NH).
struct MLSTMState {
  Tensor c, n, m;
};
/// The stabilised mLSTM recurrence (spec xlstm-large-7b §3). q, k
/// (B, NH, S, DHQK), v (B, NH, S, DHV), gates (B, NH, S). `scaleKeys` picks
/// the original-xLSTM convention (keys scaled in the state) over the 7B one.
Tensor mlstm(const Tensor &q, const Tensor &k, const Tensor &v,
             const Tensor &igate, const Tensor &fgate, bool scaleKeys,
             double eps, const MLSTMState *initial = nullptr,
             MLSTMState *final = nullptr);

/// The chunkwise form (spec mlstm-kernels-algorithms §3), computed from its
/// own formulas: the states entering each of the ceil(S / chunk) chunks
/// (C (B, NH, NC, DHQK, DHV), n (B, NH, NC, DHQK), m (B, NH, NC)) and the
/// state after the last one.
struct MLSTMChunkStates {
  Tensor c, n, m;
  MLSTMState final;
};
MLSTMChunkStates mlstmChunkStates(const Tensor &k, const Tensor &v,
                                  const Tensor &igate, const Tensor &fgate,
                                  int64_t chunkSize, bool scaleKeys,
                                  const MLSTMState *initial = nullptr);
/// Outputs of every chunk from its entering state and the in-chunk inputs.
Tensor mlstmChunkOutputs(const Tensor &q, const Tensor &k, const Tensor &v,
                         const Tensor &igate, const Tensor &fgate,
                         const Tensor &chunkC, const Tensor &chunkN,
                         const Tensor &chunkM, int64_t chunkSize,
                         bool scaleKeys, double eps);

/// sLSTM state, one (B, H) tensor per component: h, c, n, m (slstm) or
/// h, c (lstm).
using SLSTMState = std::vector<Tensor>;
/// The sLSTM recurrence (spec §b.6). Gate inputs (B, S, H); R (NH, DH, 4, DH),
/// b (NH, 4, DH), gate order i, f, z, o. Returns the hidden states (B, S, H).
Tensor slstm(const Tensor &ig, const Tensor &fg, const Tensor &zg,
             const Tensor &og, const Tensor &r, const Tensor &b,
             int64_t numHeads, bool lstmFunction,
             const SLSTMState *initial = nullptr, SLSTMState *final = nullptr);

/// result[b, s, :] = table[tokens[b, s], :]; false if a token is out of
/// range (then `badToken` holds it).
bool embedding(const Tensor &tokens, const Tensor &table, Tensor &result,
               double &badToken);

Tensor add(const Tensor &a, const Tensor &b);

} // namespace xlstm::reference

#endif // XLSTM_REFERENCE_KERNELS_H
