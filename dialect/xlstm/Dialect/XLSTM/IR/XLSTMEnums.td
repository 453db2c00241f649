//===- XLSTMEnums.td - xlstm enumerations ------------------*- tablegen -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_DIALECT_XLSTM_IR_XLSTMENUMS_TD
#define XLSTM_DIALECT_XLSTM_IR_XLSTMENUMS_TD

include "mlir/IR/EnumAttr.td"
include "xlstm/Dialect/XLSTM/IR/XLSTMDialect.td"

def XLSTM_ActivationAttr : I32EnumAttr<"Activation",
    "activation of the gated feed-forward", [
      I32EnumAttrCase<"gelu", 0>,          // exact, erf based
      I32EnumAttrCase<"relu", 1>,
      I32EnumAttrCase<"relu_squared", 2>,  // upstream "relu^2"
      I32EnumAttrCase<"sigmoid", 3>,
      I32EnumAttrCase<"swish", 4>,         // x * sigmoid(x), aka SiLU
      I32EnumAttrCase<"selu", 5>]> {
  let cppNamespace = "::xlstm";
  let genSpecializedAttr = 0;
}

def XLSTM_SLSTMLayoutAttr : I32EnumAttr<"SLSTMLayout",
    "storage layout of the sLSTM recurrent kernel and bias", [
      I32EnumAttrCase<"vanilla", 0>,  // kernel (NH, 4*DH, DH), bias gate-major
      I32EnumAttrCase<"cuda", 1>]> {  // kernel (NH, DH, 4*DH), bias head-major
  let cppNamespace = "::xlstm";
  let genSpecializedAttr = 0;
}

def XLSTM_SLSTMFunctionAttr : I32EnumAttr<"SLSTMFunction",
    "pointwise function of the sLSTM cell", [
      I32EnumAttrCase<"slstm", 0>,  // exponential gating, state (h, c, n, m)
      I32EnumAttrCase<"lstm", 1>]> {  // classic LSTM, state (h, c)
  let cppNamespace = "::xlstm";
  let genSpecializedAttr = 0;
}
def XLSTM_SLSTMFunction
    : EnumAttr<XLSTM_Dialect, XLSTM_SLSTMFunctionAttr, "function"> {
  let assemblyFormat = "`<` $value `>`";
}

def XLSTM_QKScalingAttr : I32EnumAttr<"QKScaling",
    "where the mLSTM cell applies 1/sqrt(DHQK)", [
      // Original xLSTM: keys are scaled before they enter the state.
      I32EnumAttrCase<"key", 0>,
      // mlstm_kernels / xLSTM-7B: queries are scaled, the state holds raw keys.
      I32EnumAttrCase<"query", 1>]> {
  let cppNamespace = "::xlstm";
  let genSpecializedAttr = 0;
}

def XLSTM_NormScalingAttr : I32EnumAttr<"NormScaling",
    "how a norm applies its learned weight w", [
      I32EnumAttrCase<"weight", 0>,           // y = x_hat * w (xLSTM-7B)
      I32EnumAttrCase<"one_plus_weight", 1>]> { // y = x_hat * (1 + w) (xLSTM)
  let cppNamespace = "::xlstm";
  let genSpecializedAttr = 0;
}

def XLSTM_WeightModeAttr : I32EnumAttr<"WeightMode",
    "how an xLSTM-7B checkpoint stores its projections", [
      I32EnumAttrCase<"single", 0>,  // one linear per projection
      I32EnumAttrCase<"fused", 1>]> {  // qkv_opreact, ifgate_preact, proj_up_gate_z
  let cppNamespace = "::xlstm";
  let genSpecializedAttr = 0;
}

// Attribute forms, printed like #xlstm.act<gelu>.
def XLSTM_Activation : EnumAttr<XLSTM_Dialect, XLSTM_ActivationAttr, "act"> {
  let assemblyFormat = "`<` $value `>`";
}
def XLSTM_SLSTMLayout : EnumAttr<XLSTM_Dialect, XLSTM_SLSTMLayoutAttr, "layout"> {
  let assemblyFormat = "`<` $value `>`";
}
def XLSTM_QKScaling : EnumAttr<XLSTM_Dialect, XLSTM_QKScalingAttr, "qk_scaling"> {
  let assemblyFormat = "`<` $value `>`";
}
def XLSTM_NormScaling : EnumAttr<XLSTM_Dialect, XLSTM_NormScalingAttr, "norm_scaling"> {
  let assemblyFormat = "`<` $value `>`";
}
def XLSTM_WeightMode : EnumAttr<XLSTM_Dialect, XLSTM_WeightModeAttr, "weight_mode"> {
  let assemblyFormat = "`<` $value `>`";
}

#endif // XLSTM_DIALECT_XLSTM_IR_XLSTMENUMS_TD
