//===- Kernels.cpp - Float64 reference implementations of xLSTM ops -------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Reference/Kernels.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/ErrorHandling.h"
#include <algorithm>
#include <cassert>
#include <cmath>

using namespace xlstm::reference;

std::string Tensor::shapeString() const {
  std::string s;
  for (auto [i, d] : llvm::enumerate(shape))
    s += (i ? "x" : "") + std::to_string(d);
  return s.empty() ? "scalar" : s;
}

double xlstm::reference::sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

double xlstm::reference::logSigmoid(double x) {
  // Stable for large |x|: log(sigmoid(x)) = -log1p(exp(-x)).
  return x >= 0 ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x));
}

double xlstm::reference::activate(Act act, double x) {
  switch (act) {
  case Act::Gelu:
    return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
  case Act::Relu:
    return std::max(x, 0.0);
  case Act::ReluSquared:
    return std::max(x, 0.0) * std::max(x, 0.0);
  case Act::Sigmoid:
    return sigmoid(x);
  case Act::Swish:
    return x * sigmoid(x);
  case Act::Selu: {
    constexpr double alpha = 1.6732632423543772848170429916717;
    constexpr double scale = 1.0507009873554804934193349852946;
    return scale * (x > 0 ? x : alpha * std::expm1(x));
  }
  }
  llvm_unreachable("unknown activation");
}

namespace {
/// Number of rows when the last dim is the feature dim.
int64_t rows(const Tensor &x) {
  return x.size() / std::max<int64_t>(x.dim(-1), 1);
}

Tensor withLastDim(const Tensor &x, int64_t width) {
  llvm::SmallVector<int64_t, 4> shape(x.shape);
  shape.back() = width;
  return Tensor(shape);
}
} // namespace

Tensor xlstm::reference::linear(const Tensor &x, const Tensor &w,
                                const Tensor *bias) {
  int64_t in = w.dim(1), out = w.dim(0), n = rows(x);
  assert(x.dim(-1) == in && "linear: width mismatch");
  Tensor y = withLastDim(x, out);
  for (int64_t r = 0; r < n; ++r) {
    const double *xr = &x.data[r * in];
    for (int64_t o = 0; o < out; ++o) {
      const double *wr = &w.data[o * in];
      double acc = bias ? bias->data[o] : 0.0;
      for (int64_t i = 0; i < in; ++i)
        acc += xr[i] * wr[i];
      y.data[r * out + o] = acc;
    }
  }
  return y;
}

Tensor xlstm::reference::headwiseLinear(const Tensor &x, const Tensor &w,
                                        const Tensor *bias) {
  int64_t nb = w.dim(0), o = w.dim(1), in = w.dim(2), n = rows(x);
  Tensor y = withLastDim(x, nb * o);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t h = 0; h < nb; ++h)
      for (int64_t j = 0; j < o; ++j) {
        double acc = bias ? bias->data[h * o + j] : 0.0;
        for (int64_t i = 0; i < in; ++i)
          acc +=
              x.data[r * nb * in + h * in + i] * w.data[(h * o + j) * in + i];
        y.data[r * nb * o + h * o + j] = acc;
      }
  return y;
}

Tensor xlstm::reference::causalConv1d(const Tensor &x, const Tensor &w,
                                      const Tensor *bias, const Tensor *state,
                                      Tensor *finalState) {
  int64_t b = x.dim(0), s = x.dim(1), d = x.dim(2), k = w.dim(1);
  int64_t p = k - 1; // history rows
  // history(t) for t in [-p, s): state rows first, then x.
  auto input = [&](int64_t bi, int64_t t, int64_t c) -> double {
    if (t >= 0)
      return x.data[(bi * s + t) * d + c];
    if (!state)
      return 0.0;
    return state->data[(bi * p + (p + t)) * d + c];
  };
  Tensor y(x.shape);
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t t = 0; t < s; ++t)
      for (int64_t c = 0; c < d; ++c) {
        double acc = bias ? bias->data[c] : 0.0;
        for (int64_t j = 0; j < k; ++j)
          acc += w.data[c * k + j] * input(bi, t - p + j, c);
        y.data[(bi * s + t) * d + c] = acc;
      }
  if (finalState) {
    *finalState = Tensor({b, p, d});
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t r = 0; r < p; ++r)
        for (int64_t c = 0; c < d; ++c)
          finalState->data[(bi * p + r) * d + c] = input(bi, s - p + r, c);
  }
  return y;
}

Tensor xlstm::reference::groupLayerNorm(const Tensor &x, int64_t groups,
                                        const Tensor *w, const Tensor *bias,
                                        double eps, bool onePlusWeight) {
  int64_t width = x.dim(-1), g = width / groups, n = rows(x);
  Tensor y(x.shape);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t h = 0; h < groups; ++h) {
      const double *xr = &x.data[r * width + h * g];
      double mean = 0, var = 0;
      for (int64_t i = 0; i < g; ++i)
        mean += xr[i];
      mean /= g;
      for (int64_t i = 0; i < g; ++i)
        var += (xr[i] - mean) * (xr[i] - mean);
      var /= g; // biased, like torch
      double inv = 1.0 / std::sqrt(var + eps);
      for (int64_t i = 0; i < g; ++i) {
        int64_t c = h * g + i;
        double scale = w ? w->data[c] + (onePlusWeight ? 1.0 : 0.0) : 1.0;
        y.data[r * width + c] =
            (xr[i] - mean) * inv * scale + (bias ? bias->data[c] : 0.0);
      }
    }
  return y;
}

Tensor xlstm::reference::rmsNorm(const Tensor &x, const Tensor *w,
                                 const Tensor *bias, double eps) {
  int64_t width = x.dim(-1), n = rows(x);
  Tensor y(x.shape);
  for (int64_t r = 0; r < n; ++r) {
    double ms = 0;
    for (int64_t i = 0; i < width; ++i)
      ms += x.data[r * width + i] * x.data[r * width + i];
    double inv = 1.0 / std::sqrt(ms / width + eps);
    for (int64_t i = 0; i < width; ++i)
      y.data[r * width + i] =
          x.data[r * width + i] * inv * (w ? w->data[i] : 1.0) +
          (bias ? bias->data[i] : 0.0);
  }
  return y;
}

Tensor xlstm::reference::softCap(const Tensor &x, double cap) {
  Tensor y(x.shape);
  for (int64_t i = 0; i < x.size(); ++i)
    y.data[i] = cap * std::tanh(x.data[i] / cap);
  return y;
}

Tensor xlstm::reference::gatedFFN(const Tensor &x, const Tensor &gateW,
                                  const Tensor &upW, const Tensor &downW,
                                  const Tensor *gateB, const Tensor *upB,
                                  const Tensor *downB, Act act) {
  Tensor gate = linear(x, gateW, gateB);
  Tensor up = linear(x, upW, upB);
  for (int64_t i = 0; i < gate.size(); ++i)
    gate.data[i] = activate(act, gate.data[i]) * up.data[i];
  return linear(gate, downW, downB);
}

Tensor xlstm::reference::mlstm(const Tensor &q, const Tensor &k,
                               const Tensor &v, const Tensor &igate,
                               const Tensor &fgate, bool scaleKeys, double eps,
                               const MLSTMState *initial, MLSTMState *final) {
  int64_t b = q.dim(0), nh = q.dim(1), s = q.dim(2), dqk = q.dim(3);
  int64_t dv = v.dim(3);
  double scale = 1.0 / std::sqrt(static_cast<double>(dqk));
  Tensor h({b, nh, s, dv});
  MLSTMState st;
  st.c = initial ? initial->c : Tensor({b, nh, dqk, dv});
  st.n = initial ? initial->n : Tensor({b, nh, dqk});
  st.m = initial ? initial->m : Tensor({b, nh});
  std::vector<double> kk(dqk), qq(dqk);
  for (int64_t bh = 0; bh < b * nh; ++bh) {
    double *c = &st.c.data[bh * dqk * dv];
    double *n = &st.n.data[bh * dqk];
    double &m = st.m.data[bh];
    for (int64_t t = 0; t < s; ++t) {
      int64_t row = bh * s + t;
      double lf = logSigmoid(fgate.data[row]), ig = igate.data[row];
      double mNew = std::max(lf + m, ig);
      double fAct = std::exp(lf + m - mNew), iAct = std::exp(ig - mNew);
      m = mNew;
      // The scale goes to the keys (state holds scaled keys) or the queries;
      // h is the same either way.
      for (int64_t i = 0; i < dqk; ++i) {
        kk[i] = k.data[row * dqk + i] * (scaleKeys ? scale : 1.0);
        qq[i] = q.data[row * dqk + i] * (scaleKeys ? 1.0 : scale);
      }
      const double *vt = &v.data[row * dv];
      double den = 0;
      for (int64_t i = 0; i < dqk; ++i) {
        n[i] = fAct * n[i] + iAct * kk[i];
        den += qq[i] * n[i];
        for (int64_t j = 0; j < dv; ++j)
          c[i * dv + j] = fAct * c[i * dv + j] + iAct * kk[i] * vt[j];
      }
      double denom = std::max(std::abs(den), std::exp(-m)) + eps;
      for (int64_t j = 0; j < dv; ++j) {
        double num = 0;
        for (int64_t i = 0; i < dqk; ++i)
          num += qq[i] * c[i * dv + j];
        h.data[row * dv + j] = num / denom;
      }
    }
  }
  if (final)
    *final = std::move(st);
  return h;
}

MLSTMChunkStates xlstm::reference::mlstmChunkStates(
    const Tensor &k, const Tensor &v, const Tensor &igate, const Tensor &fgate,
    int64_t chunkSize, bool scaleKeys, const MLSTMState *initial) {
  int64_t b = k.dim(0), nh = k.dim(1), s = k.dim(2), dqk = k.dim(3);
  int64_t dv = v.dim(3), nc = s / chunkSize + (s % chunkSize != 0);
  double kScale = scaleKeys ? 1.0 / std::sqrt(static_cast<double>(dqk)) : 1.0;
  MLSTMChunkStates out;
  out.c = Tensor({b, nh, nc, dqk, dv});
  out.n = Tensor({b, nh, nc, dqk});
  out.m = Tensor({b, nh, nc});
  out.final.c = initial ? initial->c : Tensor({b, nh, dqk, dv});
  out.final.n = initial ? initial->n : Tensor({b, nh, dqk});
  out.final.m = initial ? initial->m : Tensor({b, nh});
  std::vector<double> a(std::min(chunkSize, s));
  for (int64_t bh = 0; bh < b * nh; ++bh) {
    double *c = &out.final.c.data[bh * dqk * dv];
    double *n = &out.final.n.data[bh * dqk];
    double &m = out.final.m.data[bh];
    for (int64_t ch = 0; ch < nc; ++ch) {
      // Record the state entering this chunk.
      std::copy_n(c, dqk * dv, &out.c.data[(bh * nc + ch) * dqk * dv]);
      std::copy_n(n, dqk, &out.n.data[(bh * nc + ch) * dqk]);
      out.m.data[bh * nc + ch] = m;
      int64_t t0 = ch * chunkSize, len = std::min(chunkSize, s - t0);
      // g = total log forget of the chunk; a_l = log weight of input l at
      // the chunk end.
      double g = 0;
      for (int64_t l = 0; l < len; ++l)
        g += logSigmoid(fgate.data[bh * s + t0 + l]);
      double bl = 0, aMax = -INFINITY;
      for (int64_t l = 0; l < len; ++l) {
        bl += logSigmoid(fgate.data[bh * s + t0 + l]);
        a[l] = g - bl + igate.data[bh * s + t0 + l];
        aMax = std::max(aMax, a[l]);
      }
      double mNew = std::max(g + m, aMax);
      double decay = std::exp(g + m - mNew);
      for (int64_t i = 0; i < dqk * dv; ++i)
        c[i] *= decay;
      for (int64_t i = 0; i < dqk; ++i)
        n[i] *= decay;
      for (int64_t l = 0; l < len; ++l) {
        double w = std::exp(a[l] - mNew);
        const double *kl = &k.data[(bh * s + t0 + l) * dqk];
        const double *vl = &v.data[(bh * s + t0 + l) * dv];
        for (int64_t i = 0; i < dqk; ++i) {
          double wk = w * kl[i] * kScale;
          n[i] += wk;
          for (int64_t j = 0; j < dv; ++j)
            c[i * dv + j] += wk * vl[j];
        }
      }
      m = mNew;
    }
  }
  return out;
}

Tensor xlstm::reference::mlstmChunkOutputs(
    const Tensor &q, const Tensor &k, const Tensor &v, const Tensor &igate,
    const Tensor &fgate, const Tensor &chunkC, const Tensor &chunkN,
    const Tensor &chunkM, int64_t chunkSize, bool scaleKeys, double eps) {
  int64_t b = q.dim(0), nh = q.dim(1), s = q.dim(2), dqk = q.dim(3);
  int64_t dv = v.dim(3), nc = s / chunkSize + (s % chunkSize != 0);
  double scale = 1.0 / std::sqrt(static_cast<double>(dqk));
  double qScale = scaleKeys ? 1.0 : scale, kScale = scaleKeys ? scale : 1.0;
  Tensor h({b, nh, s, dv});
  int64_t maxLen = std::min(chunkSize, s);
  std::vector<double> cum(maxLen), logD(maxLen), num(dv);
  for (int64_t bh = 0; bh < b * nh; ++bh)
    for (int64_t ch = 0; ch < nc; ++ch) {
      int64_t t0 = ch * chunkSize, len = std::min(chunkSize, s - t0);
      const double *c = &chunkC.data[(bh * nc + ch) * dqk * dv];
      const double *n = &chunkN.data[(bh * nc + ch) * dqk];
      double m = chunkM.data[bh * nc + ch];
      double acc = 0;
      for (int64_t l = 0; l < len; ++l)
        cum[l] = acc += logSigmoid(fgate.data[bh * s + t0 + l]);
      for (int64_t l = 0; l < len; ++l) {
        const double *ql = &q.data[(bh * s + t0 + l) * dqk];
        double mIntra = -INFINITY;
        for (int64_t j = 0; j <= l; ++j) {
          logD[j] = cum[l] - cum[j] + igate.data[bh * s + t0 + j];
          mIntra = std::max(mIntra, logD[j]);
        }
        double mComb = std::max(cum[l] + m, mIntra);
        // Inter-chunk part: the entering state, decayed to row l.
        double interW = std::exp(cum[l] + m - mComb), den = 0;
        std::fill(num.begin(), num.end(), 0.0);
        for (int64_t i = 0; i < dqk; ++i) {
          double qi = ql[i] * qScale * interW;
          den += qi * n[i];
          for (int64_t j = 0; j < dv; ++j)
            num[j] += qi * c[i * dv + j];
        }
        // Intra-chunk part: causal attention-like sum over the chunk.
        for (int64_t j = 0; j <= l; ++j) {
          const double *kj = &k.data[(bh * s + t0 + j) * dqk];
          double qk = 0;
          for (int64_t i = 0; i < dqk; ++i)
            qk += ql[i] * qScale * kj[i] * kScale;
          double w = qk * std::exp(logD[j] - mComb);
          den += w;
          const double *vj = &v.data[(bh * s + t0 + j) * dv];
          for (int64_t x = 0; x < dv; ++x)
            num[x] += w * vj[x];
        }
        double denom = std::max(std::abs(den), std::exp(-mComb)) + eps;
        for (int64_t x = 0; x < dv; ++x)
          h.data[(bh * s + t0 + l) * dv + x] = num[x] / denom;
      }
    }
  return h;
}

Tensor xlstm::reference::slstm(const Tensor &ig, const Tensor &fg,
                               const Tensor &zg, const Tensor &og,
                               const Tensor &r, const Tensor &bias,
                               int64_t numHeads, bool lstmFunction,
                               const SLSTMState *initial, SLSTMState *final) {
  int64_t b = ig.dim(0), s = ig.dim(1), hs = ig.dim(2);
  int64_t dh = hs / numHeads;
  size_t numStates = lstmFunction ? 2 : 4;
  SLSTMState st = initial ? *initial : SLSTMState(numStates, Tensor({b, hs}));
  Tensor y({b, s, hs});
  const Tensor *gates[4] = {&ig, &fg, &zg, &og};
  std::vector<double> raw(4 * hs);
  for (int64_t bi = 0; bi < b; ++bi) {
    for (int64_t t = 0; t < s; ++t) {
      const double *hPrev = &st[0].data[bi * hs];
      for (int64_t head = 0; head < numHeads; ++head)
        for (int64_t g = 0; g < 4; ++g)
          for (int64_t j = 0; j < dh; ++j) {
            double acc = gates[g]->data[(bi * s + t) * hs + head * dh + j] +
                         bias.data[(head * 4 + g) * dh + j];
            for (int64_t i = 0; i < dh; ++i)
              acc += hPrev[head * dh + i] *
                     r.data[((head * dh + i) * 4 + g) * dh + j];
            raw[g * hs + head * dh + j] = acc;
          }
      for (int64_t u = 0; u < hs; ++u) {
        double ri = raw[u], rf = raw[hs + u], rz = raw[2 * hs + u],
               ro = raw[3 * hs + u];
        double &h = st[0].data[bi * hs + u], &c = st[1].data[bi * hs + u];
        if (lstmFunction) {
          c = sigmoid(rf) * c + sigmoid(ri) * std::tanh(rz);
          h = sigmoid(ro) * std::tanh(c);
        } else {
          double &n = st[2].data[bi * hs + u], &m = st[3].data[bi * hs + u];
          double lfm = m + logSigmoid(rf);
          // First step (n == 0): the stabiliser starts at the input gate.
          double mNew = n == 0.0 ? ri : std::max(ri, lfm);
          double iAct = std::min(std::exp(ri - mNew), 1.0);
          double fAct = std::min(std::exp(lfm - mNew), 1.0);
          c = fAct * c + iAct * std::tanh(rz);
          n = fAct * n + iAct;
          m = mNew;
          h = sigmoid(ro) * c / n;
        }
        y.data[(bi * s + t) * hs + u] = h;
      }
    }
  }
  if (final)
    *final = std::move(st);
  return y;
}

bool xlstm::reference::embedding(const Tensor &tokens, const Tensor &table,
                                 Tensor &result, double &badToken) {
  int64_t vocab = table.dim(0), e = table.dim(1);
  result = Tensor({tokens.dim(0), tokens.dim(1), e});
  for (int64_t i = 0; i < tokens.size(); ++i) {
    double tok = tokens.data[i];
    if (!(tok >= 0 && tok < vocab) || tok != std::floor(tok)) {
      badToken = tok;
      return false;
    }
    std::copy_n(&table.data[static_cast<int64_t>(tok) * e], e,
                &result.data[i * e]);
  }
  return true;
}

Tensor xlstm::reference::add(const Tensor &a, const Tensor &b) {
  Tensor y(a.shape);
  for (int64_t i = 0; i < a.size(); ++i)
    y.data[i] = a.data[i] + b.data[i];
  return y;
}
