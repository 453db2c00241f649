// RUN: xlstm-opt %s --split-input-file --verify-diagnostics

// The xlstm.* attributes of model functions and modules are the contract
// with the bundle and the runtime (code review, issue 11): the dialect
// verifies them wherever they appear.

// A well-formed model signature.
module attributes {xlstm.model = "xLSTMLMModel", xlstm.config = "num_blocks: 1\n"} {
  func.func private @forward(tensor<?x?xi64> {xlstm.input = "tokens"},
                             tensor<3x4xf32> {xlstm.param = "token_embedding.weight", xlstm.aliases = ["lm_head.weight"]},
                             tensor<?x4xf32> {xlstm.state = "blocks.0.h"})
      -> (tensor<?x?x3xf32> {xlstm.output = "logits"}, tensor<?x4xf32> {xlstm.state = "blocks.0.h"})
}

// -----

// expected-error @+1 {{'xlstm.param' on argument 0 must be a non-empty string, got 3 : i64}}
func.func private @f(tensor<4xf32> {xlstm.param = 3})

// -----

// expected-error @+1 {{'xlstm.input' on argument 0 must be a non-empty string, got ""}}
func.func private @f(tensor<4xf32> {xlstm.input = ""})

// -----

// expected-error @+1 {{'xlstm.aliases' on argument 0 must be an array of non-empty strings, got ["a", 1]}}
func.func private @f(tensor<4xf32> {xlstm.aliases = ["a", 1]})

// -----

// A misspelt name is an error, not an argument the bundle silently skips.
// expected-error @+1 {{has unknown attribute 'xlstm.params' on argument 0 (known: xlstm.model and xlstm.config on the module}}
func.func private @f(tensor<4xf32> {xlstm.params = "w"})

// -----

// expected-error @+1 {{'xlstm.output' on result 0 must be a non-empty string, got unit}}
func.func private @f() -> (tensor<4xf32> {xlstm.output})

// -----

// expected-error @+1 {{has unknown attribute 'xlstm.input' on result 0}}
func.func private @f() -> (tensor<4xf32> {xlstm.input = "x"})

// -----

// expected-error @+1 {{'xlstm.model' must be xLSTMBlockStack, xLSTMLMModel or xLSTMLarge, got 'GPT'}}
module attributes {xlstm.model = "GPT"} {}

// -----

// expected-error @+1 {{'xlstm.config' belongs on the module}}
func.func private @f() attributes {xlstm.config = "num_blocks: 1\n"}

// -----

// The lowering's records (xlstm-lowering-report reads them) are checked too.
// expected-error @+1 {{'xlstm.kernel' must be a dictionary of strings with at least family, kernel and shape}}
func.func private @g() attributes {xlstm.kernel = {family = "conv", kernel = "causal conv"}}

// -----

// A launch that serves several ops lists one record each; none, or one that
// is not a record, is an error.
// expected-error @+1 {{or a non-empty array of them}}
func.func private @g_list() attributes {xlstm.kernel = [{family = "projection", kernel = "gemv", shape = "?x8x8"}, {family = "projection"}]}

// -----

// expected-error @+1 {{or a non-empty array of them}}
func.func private @g_empty() attributes {xlstm.kernel = []}

// -----

func.func private @g_two() attributes {xlstm.kernel = [{family = "projection", kernel = "gemv", shape = "?x8x8"}, {family = "projection", kernel = "gemv", shape = "?x16x8"}]}

// -----

// expected-error @+1 {{'xlstm.generic_reason' must be a string}}
func.func private @h() attributes {xlstm.generic_reason = 1 : i64}
