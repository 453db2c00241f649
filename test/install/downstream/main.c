/* Uses the installed C API: tokenizes a golden line and loads a bundle,
 * which without a GPU must fail with a message, not crash.
 *   downstream TOKENIZER.json [BUNDLE] */
#include "xlstm/Runtime/xlstm_runtime.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc < 2)
    return 2;
  xlstm_tokenizer *tok = NULL;
  if (xlstm_tokenizer_load(argv[1], &tok) != XLSTM_OK) {
    fprintf(stderr, "tokenizer: %s\n", xlstm_last_error());
    return 1;
  }
  int64_t ids[8];
  size_t count = 0;
  const char *text = "Hello world";
  if (xlstm_tokenizer_encode(tok, text, strlen(text), ids, 8, &count) !=
          XLSTM_OK ||
      count != 2 || ids[0] != 12092 || ids[1] != 1533) {
    fprintf(stderr, "encode: unexpected ids\n");
    return 1;
  }
  xlstm_tokenizer_free(tok);
  printf("ids: %lld %lld\n", (long long)ids[0], (long long)ids[1]);
  if (argc > 2) {
    xlstm_model *model = NULL;
    if (xlstm_model_load(argv[2], "f32", 0, &model) == XLSTM_OK) {
      printf("model: loaded\n");
      xlstm_model_free(model);
    } else {
      printf("model: %s\n", xlstm_last_error());
    }
  }
  return 0;
}
