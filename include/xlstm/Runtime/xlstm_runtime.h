/*===- xlstm_runtime.h - C API of the xlstm-mlir runtime ----------*- C -*-===*\
|*                                                                            *|
|* Part of the xlstm-mlir project.                                            *|
|*                                                                            *|
|*===----------------------------------------------------------------------===*|
|*                                                                            *|
|* Runs compiled models (.xlstmb bundles, from xlstmc) on a CUDA GPU from C   *|
|* or any language with a C FFI. Every function returns XLSTM_OK or           *|
|* XLSTM_ERROR; after an error, xlstm_last_error() says what went wrong (per  *|
|* thread). Tensors are row-major host arrays: inputs are float32             *|
|* embeddings (batch, seq, E) or int64 tokens (batch, seq), outputs float32   *|
|* (batch, seq, width). A model is used by one thread at a time.              *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef XLSTM_RUNTIME_XLSTM_RUNTIME_H
#define XLSTM_RUNTIME_XLSTM_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { XLSTM_OK = 0, XLSTM_ERROR = 1 } xlstm_status;

typedef struct xlstm_model xlstm_model;
/** The recurrent state of a batch (all blocks), for step-by-step decoding. */
typedef struct xlstm_state xlstm_state;

/** The message of the last failed call on this thread ("" if none). */
const char *xlstm_last_error(void);

/** Loads `bundle_path` onto CUDA device `device`, using its programs for
 *  `dtype` ("f32" or "bf16"). Parameters must be set before running. */
xlstm_status xlstm_model_load(const char *bundle_path, const char *dtype,
                              int device, xlstm_model **model);
void xlstm_model_free(xlstm_model *model);

/** Parameters from a checkpoint under upstream or Hugging Face names (a
 *  .safetensors file, a model.safetensors.index.json of shards, or a folder
 *  holding either; weight_mode "fused" tensors are split), uploaded in their
 *  stored dtype and converted on the way; or, when `safetensors_path` is
 *  NULL, upstream's random init from `seed`. */
xlstm_status xlstm_model_set_weights(xlstm_model *model,
                                     const char *safetensors_path,
                                     uint64_t seed);

/** CUDA-graph replay of forward and step, on (1, the default) or off (0):
 *  the second run of an input shape records its launches into a graph,
 *  later runs of that shape replay it with one launch (the 8 most recently
 *  used shapes keep their graphs). While a model records, no other thread
 *  may use the GPU. */
xlstm_status xlstm_model_set_graph_replay(xlstm_model *model, int on);

/** 1 if the model reads int64 tokens, 0 if float32 embeddings. */
int xlstm_model_takes_tokens(const xlstm_model *model);
/** The input's last dimension (E), 0 for token models. */
int64_t xlstm_model_input_width(const xlstm_model *model);
/** The output's last dimension (E, or the vocabulary for logits). */
int64_t xlstm_model_output_width(const xlstm_model *model);

/** Zero state for `batch` rows, kept on the GPU (steps update it there).
 *  Free states before their model. */
xlstm_status xlstm_state_create(const xlstm_model *model, int64_t batch,
                                xlstm_state **state);
void xlstm_state_free(xlstm_state *state);

/** The whole sequence from a zero state: `output` receives
 *  batch * seq * output_width floats; `final_state` (may be NULL; created
 *  for the same batch) receives the state after the last position. */
xlstm_status xlstm_model_forward(xlstm_model *model, int64_t batch, int64_t seq,
                                 const void *input, float *output,
                                 xlstm_state *final_state);

/** Prefill for generation: the whole sequence from a zero state, the final
 *  state written into `state` (created for `batch`) on the GPU, and only the
 *  last position's output copied to `last_output` (batch * output_width
 *  floats; may be NULL). */
xlstm_status xlstm_model_prefill(xlstm_model *model, int64_t batch,
                                 int64_t seq, const void *input,
                                 float *last_output, xlstm_state *state);

/** One position per row (input (batch, 1)) from `state`, which is updated
 *  on the GPU; `output` receives batch * output_width floats. With graph
 *  replay on, each state's step is recorded once and replayed: one input
 *  copy, one graph launch and one output copy per call. */
xlstm_status xlstm_model_step(xlstm_model *model, const void *input,
                              float *output, xlstm_state *state);

/** Sampling settings of xlstm_model_generate (what Hugging Face generate
 *  calls them): temperature 0 is greedy; top_k 0 and top_p 1 keep every
 *  token; repetition_penalty 1 is off. */
typedef struct {
  double temperature;
  int64_t top_k;
  double top_p;
  double repetition_penalty;
  uint64_t seed;
} xlstm_sampling;

/** Called with each generated token as it is produced; a nonzero return
 *  stops generation after that token. */
typedef int (*xlstm_token_callback)(int64_t token, void *user);

/** Generates up to `max_new_tokens` tokens after `prompt` (one sequence of
 *  `prompt_length` token ids): prefill, then one sampled token and one step
 *  at a time with the state on the GPU, stopping after any of the
 *  `eos_count` ids in `eos`. `tokens` (room for max_new_tokens) receives the
 *  generated ids, `*count` how many; `callback` may be NULL. */
xlstm_status xlstm_model_generate(xlstm_model *model, const int64_t *prompt,
                                  int64_t prompt_length,
                                  const xlstm_sampling *sampling,
                                  int64_t max_new_tokens, const int64_t *eos,
                                  size_t eos_count, int64_t *tokens,
                                  int64_t *count, xlstm_token_callback callback,
                                  void *user);

/** A Hugging Face tokenizer.json (byte-level BPE: GPT-NeoX-20B, GPT-2). */
typedef struct xlstm_tokenizer xlstm_tokenizer;
xlstm_status xlstm_tokenizer_load(const char *tokenizer_json,
                                  xlstm_tokenizer **tokenizer);
void xlstm_tokenizer_free(xlstm_tokenizer *tokenizer);

/** The token ids of `length` bytes of UTF-8 `text`: `*count` receives how
 *  many there are, and the first min(count, capacity) go to `ids` (call
 *  with capacity 0 to size the buffer). */
xlstm_status xlstm_tokenizer_encode(const xlstm_tokenizer *tokenizer,
                                    const char *text, size_t length,
                                    int64_t *ids, size_t capacity,
                                    size_t *count);

/** The text of `count` ids, special tokens skipped: `*length` receives its
 *  byte length; it is copied NUL-terminated to `text` when length + 1 <=
 *  capacity (call with capacity 0 to size the buffer). */
xlstm_status xlstm_tokenizer_decode(const xlstm_tokenizer *tokenizer,
                                    const int64_t *ids, size_t count,
                                    char *text, size_t capacity,
                                    size_t *length);

#ifdef __cplusplus
}
#endif

#endif /* XLSTM_RUNTIME_XLSTM_RUNTIME_H */
