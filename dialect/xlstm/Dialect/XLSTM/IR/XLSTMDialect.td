//===- XLSTMDialect.td - xlstm dialect definition ----------*- tablegen -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_DIALECT_XLSTM_IR_XLSTMDIALECT_TD
#define XLSTM_DIALECT_XLSTM_IR_XLSTMDIALECT_TD

include "mlir/IR/OpBase.td"

def XLSTM_Dialect : Dialect {
  let name = "xlstm";
  let cppNamespace = "::xlstm";
  let summary = "xLSTM blocks, gated recurrences and their primitives";
  let description = [{
    The xlstm dialect describes xLSTM models (arXiv 2405.04517) and the
    xLSTM-7B architecture at two levels:

    * graph level: block ops (`xlstm.mlstm_block`, `xlstm.slstm_block`,
      `xlstm.large_block`), `xlstm.embedding` and `xlstm.lm_head`, whose
      operands are the checkpoint tensors exactly as upstream stores them and
      whose configuration is a typed attribute;
    * layer level: the gated recurrences (`xlstm.mlstm`, `xlstm.slstm`) and the
      primitives upstream dialects cannot express directly (causal depthwise
      conv, headwise linear, the norms, soft cap, gated FFN). Projections,
      elementwise math and reshapes use linalg, tensor and arith.

    All ops work on ranked tensors; batch and sequence length may be dynamic.
    Statistics, gates and recurrent states are computed in at least float32
    whatever the element type of the operands.
  }];
  let useDefaultAttributePrinterParser = 1;
  // The xlstm.* attributes of model functions and modules
  // (XLSTMAttrNames.h): the contract with the bundle and the runtime.
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
}

class XLSTM_Op<string mnemonic, list<Trait> traits = []>
    : Op<XLSTM_Dialect, mnemonic, traits>;

#endif // XLSTM_DIALECT_XLSTM_IR_XLSTMDIALECT_TD
