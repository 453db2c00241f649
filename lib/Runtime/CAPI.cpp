//===- CAPI.cpp - C API of the runtime ------------------------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// xlstm_runtime.h over GPUModel: opaque handles own the driver, context,
// bundle and model; errors become XLSTM_ERROR plus a per-thread message.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Runtime/xlstm_runtime.h"

#include "xlstm/Config/ConfigParser.h"
#include "xlstm/Runtime/GPUModel.h"
#include "xlstm/Runtime/Sampling.h"
#include "xlstm/Tokenizer/Tokenizer.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cstring>
#include <string>

using namespace xlstm;
using namespace xlstm::runtime;

struct xlstm_model {
  // Destroyed in reverse order: the session (model, context, driver)
  // before the bundle it was loaded from.
  std::unique_ptr<bundle::Bundle> bundle;
  std::unique_ptr<config::ModelSpec> spec;
  std::optional<GPUSession> session;
  GPUModel *model = nullptr; ///< the session's
};

struct xlstm_tokenizer {
  xlstm::tokenizer::Tokenizer tokenizer;
};

struct xlstm_state {
  xlstm_model *model;
  std::unique_ptr<GPUModel::DeviceState> device;
  ~xlstm_state() { model->model->forgetState(*device); }
};

namespace {
thread_local std::string lastError;

xlstm_status fail(const llvm::Twine &message) {
  lastError = message.str();
  return XLSTM_ERROR;
}
xlstm_status fail(llvm::Error error) {
  return fail(llvm::toString(std::move(error)));
}
xlstm_status ok() {
  lastError.clear();
  return XLSTM_OK;
}

/// `input` of `batch` x `seq` positions as the model reads it.
GPUModel::HostInput hostInput(const xlstm_model &m, int64_t batch, int64_t seq,
                              const void *input) {
  GPUModel::HostInput in;
  in.batch = batch;
  in.seq = seq;
  if (m.spec->hasTokens())
    in.tokens = static_cast<const int64_t *>(input);
  else
    in.embeddings = static_cast<const float *>(input);
  return in;
}

/// Copies `t` to `output` as float32, which the caller sized for
/// `expected` floats.
xlstm_status copyOut(const HostArray &t, float *output, int64_t expected) {
  if (t.getNumElements() != expected)
    return fail("the model produced " + llvm::Twine(t.getNumElements()) +
                " values where " + llvm::Twine(expected) + " were expected");
  std::vector<float> values = t.toF32();
  std::copy(values.begin(), values.end(), output);
  return XLSTM_OK;
}
} // namespace

extern "C" {

const char *xlstm_last_error(void) { return lastError.c_str(); }

xlstm_status xlstm_model_load(const char *bundlePath, const char *dtype,
                              int device, xlstm_model **model) {
  if (!bundlePath || !dtype || !model)
    return fail("xlstm_model_load: bundle_path, dtype and model must not be "
                "NULL");
  *model = nullptr;
  if (std::strcmp(dtype, "f32") != 0 && std::strcmp(dtype, "bf16") != 0)
    return fail(llvm::Twine("xlstm_model_load: dtype must be \"f32\" or "
                            "\"bf16\", got \"") +
                dtype + "\"");
  auto m = std::make_unique<xlstm_model>();
  llvm::Expected<bundle::Bundle> opened = bundle::Bundle::open(bundlePath);
  if (!opened)
    return fail(opened.takeError());
  m->bundle = std::make_unique<bundle::Bundle>(std::move(*opened));
  std::optional<llvm::StringRef> config =
      m->bundle->manifest().getString("config");
  if (!config)
    return fail(llvm::Twine(bundlePath) + ": the bundle has no config");
  std::string diagnostics;
  llvm::raw_string_ostream errs(diagnostics);
  std::optional<config::ModelSpec> spec = config::parseModelConfig(
      *config, (llvm::Twine(bundlePath) + ":config").str(), errs);
  if (!spec)
    return fail(diagnostics);
  m->spec = std::make_unique<config::ModelSpec>(std::move(*spec));
  llvm::Expected<GPUSession> session =
      GPUSession::open(*m->bundle, dtype,
                       m->spec->hasTokens() ? m->spec->vocabSize() : 0, device);
  if (!session)
    return fail(session.takeError());
  m->session.emplace(std::move(*session));
  m->model = &m->session->getModel();
  *model = m.release();
  return ok();
}

void xlstm_model_free(xlstm_model *model) { delete model; }

xlstm_status xlstm_model_set_weights(xlstm_model *model,
                                     const char *safetensorsPath,
                                     uint64_t seed) {
  if (!model)
    return fail("xlstm_model_set_weights: model is NULL");
  if (safetensorsPath) {
    // Straight from the mapped checkpoint to the device, no float64.
    llvm::Expected<weights::Checkpoint> checkpoint =
        weights::Checkpoint::open(safetensorsPath);
    if (!checkpoint)
      return fail(checkpoint.takeError());
    llvm::Expected<std::vector<weights::BoundTensor>> bound =
        weights::bindCheckpoint(model->model->getParams(), *checkpoint,
                                weights::checkpointLayout(*model->spec));
    if (!bound)
      return fail(bound.takeError());
    if (llvm::Error e = model->model->setParameters(*bound))
      return fail(std::move(e));
    return ok();
  }
  llvm::Expected<weights::ParamValues> values = weights::loadOrInitParameters(
      *model->spec, model->model->getParams(), "", seed);
  if (!values)
    return fail(values.takeError());
  if (llvm::Error e = model->model->setParameters(
          toFloat32Arrays(model->model->getParams(), *values)))
    return fail(std::move(e));
  return ok();
}

int xlstm_model_takes_tokens(const xlstm_model *model) {
  return model && model->spec->hasTokens() ? 1 : 0;
}

int64_t xlstm_model_input_width(const xlstm_model *model) {
  return !model || model->spec->hasTokens() ? 0 : model->spec->embeddingDim();
}

int64_t xlstm_model_output_width(const xlstm_model *model) {
  if (!model)
    return 0;
  return model->spec->hasTokens() ? model->spec->vocabSize()
                                  : model->spec->embeddingDim();
}

xlstm_status xlstm_state_create(const xlstm_model *model, int64_t batch,
                                xlstm_state **state) {
  if (!model || !state)
    return fail("xlstm_state_create: model and state must not be NULL");
  if (batch < 1)
    return fail("xlstm_state_create: batch must be at least 1, got " +
                llvm::Twine(batch));
  llvm::Expected<std::unique_ptr<GPUModel::DeviceState>> device =
      model->model->createState(batch);
  if (!device)
    return fail(device.takeError());
  *state = new xlstm_state{const_cast<xlstm_model *>(model),
                           std::move(*device)};
  return ok();
}

void xlstm_state_free(xlstm_state *state) { delete state; }

xlstm_status xlstm_model_set_graph_replay(xlstm_model *model, int on) {
  if (!model)
    return fail("xlstm_model_set_graph_replay: model must not be NULL");
  model->model->setGraphReplay(on != 0);
  return ok();
}

xlstm_status xlstm_model_forward(xlstm_model *model, int64_t batch, int64_t seq,
                                 const void *input, float *output,
                                 xlstm_state *finalState) {
  if (!model || !input || !output)
    return fail("xlstm_model_forward: model, input and output must not be "
                "NULL");
  if (batch < 1 || seq < 1)
    return fail("xlstm_model_forward: batch and seq must be at least 1");
  if (finalState && finalState->device->getBatch() != batch)
    return fail("xlstm_model_forward: the state is for batch " +
                llvm::Twine(finalState->device->getBatch()) +
                ", the input has " + llvm::Twine(batch));
  llvm::Expected<GPUModel::Result> result =
      model->model->forward(hostInput(*model, batch, seq, input));
  if (!result)
    return fail(result.takeError());
  if (copyOut(result->output, output,
              batch * seq * xlstm_model_output_width(model)) != XLSTM_OK)
    return XLSTM_ERROR;
  if (finalState)
    if (llvm::Error e =
            model->model->writeState(*finalState->device, result->states))
      return fail(std::move(e));
  return ok();
}

xlstm_status xlstm_model_prefill(xlstm_model *model, int64_t batch,
                                 int64_t seq, const void *input,
                                 float *last_output, xlstm_state *state) {
  if (!model || !input || !state)
    return fail("xlstm_model_prefill: model, input and state must not be "
                "NULL");
  if (batch < 1 || seq < 1)
    return fail("xlstm_model_prefill: batch and seq must be at least 1");
  if (state->device->getBatch() != batch)
    return fail("xlstm_model_prefill: the state is for batch " +
                llvm::Twine(state->device->getBatch()) + ", the input has " +
                llvm::Twine(batch));
  int64_t width = xlstm_model_output_width(model);
  llvm::MutableArrayRef<float> out;
  if (last_output)
    out = llvm::MutableArrayRef<float>(last_output, batch * width);
  if (llvm::Error e = model->model->prefill(
          hostInput(*model, batch, seq, input), *state->device, out))
    return fail(std::move(e));
  return ok();
}

xlstm_status xlstm_model_step(xlstm_model *model, const void *input,
                              float *output, xlstm_state *state) {
  if (!model || !input || !output || !state)
    return fail("xlstm_model_step: model, input, output and state must not "
                "be NULL");
  int64_t batch = state->device->getBatch();
  if (llvm::Error e = model->model->decodeStep(
          hostInput(*model, batch, 1, input), *state->device,
          llvm::MutableArrayRef<float>(
              output, batch * xlstm_model_output_width(model))))
    return fail(std::move(e));
  return ok();
}

xlstm_status xlstm_model_generate(xlstm_model *model, const int64_t *prompt,
                                  int64_t promptLength,
                                  const xlstm_sampling *sampling,
                                  int64_t maxNewTokens, const int64_t *eos,
                                  size_t eosCount, int64_t *tokens,
                                  int64_t *count, xlstm_token_callback callback,
                                  void *user) {
  if (!model || !prompt || !sampling || !count || (maxNewTokens > 0 && !tokens))
    return fail("xlstm_model_generate: model, prompt, sampling, tokens and "
                "count must not be NULL");
  *count = 0;
  if (!model->spec->hasTokens())
    return fail("xlstm_model_generate: the model takes embeddings, not "
                "tokens");
  if (promptLength < 1 || maxNewTokens < 0)
    return fail("xlstm_model_generate: the prompt needs at least one token "
                "and max_new_tokens must not be negative");
  runtime::SamplingOptions options{sampling->temperature, sampling->top_k,
                                   sampling->top_p,
                                   sampling->repetition_penalty, sampling->seed};
  if (llvm::Error e = options.validate())
    return fail(std::move(e));
  GPUModel &m = *model->model;
  int64_t vocab = model->spec->vocabSize();
  llvm::Expected<std::unique_ptr<GPUModel::DeviceState>> state =
      m.createState(1);
  if (!state)
    return fail(state.takeError());
  // The step recordings of this state go with it.
  llvm::scope_exit forget([&] { m.forgetState(**state); });
  std::vector<float> logits(vocab);
  if (llvm::Error e = m.prefill({prompt, nullptr, 1, promptLength}, **state,
                                logits))
    return fail(std::move(e));
  // The first token from the prefill's logits on the host, the rest on the
  // GPU when the bundle has the sampling program (the same function: the
  // row's random stream continues there).
  runtime::Sampler sampler(options);
  bool onDevice = m.canSampleOnDevice();
  std::vector<int64_t> history(prompt, prompt + promptLength);
  llvm::ArrayRef<int64_t> stops(eos, eos ? eosCount : 0);
  int64_t next = 0;
  for (int64_t n = 0; n < maxNewTokens; ++n) {
    if (n == 0 || !onDevice)
      next = sampler.next(logits, history);
    history.push_back(next);
    tokens[(*count)++] = next;
    // The callback sees the end token too (it is in `tokens`), so it is
    // called before the end-token check.
    bool cancelled = callback && callback(next, user) != 0;
    bool stop = cancelled || llvm::is_contained(stops, next);
    if (stop || n + 1 == maxNewTokens)
      break;
    if (onDevice) {
      if (n == 0)
        if (llvm::Error e = m.startSampling(**state, options, {history},
                                            {next}, sampler.getDraws()))
          return fail(std::move(e));
      if (llvm::Error e = m.generateStep(**state))
        return fail(std::move(e));
      if (llvm::Error e = m.readTokens(**state, next))
        return fail(std::move(e));
      continue;
    }
    if (llvm::Error e = m.decodeStep({&next, nullptr, 1, 1}, **state, logits))
      return fail(std::move(e));
  }
  return ok();
}

xlstm_status xlstm_tokenizer_load(const char *path,
                                  xlstm_tokenizer **tokenizer) {
  if (!path || !tokenizer)
    return fail("xlstm_tokenizer_load: path and tokenizer must not be NULL");
  *tokenizer = nullptr;
  llvm::Expected<tokenizer::Tokenizer> t =
      tokenizer::Tokenizer::fromFile(path);
  if (!t)
    return fail(t.takeError());
  *tokenizer = new xlstm_tokenizer{std::move(*t)};
  return ok();
}

void xlstm_tokenizer_free(xlstm_tokenizer *tokenizer) { delete tokenizer; }

xlstm_status xlstm_tokenizer_encode(const xlstm_tokenizer *tokenizer,
                                    const char *text, size_t length,
                                    int64_t *ids, size_t capacity,
                                    size_t *count) {
  if (!tokenizer || (!text && length) || !count || (capacity && !ids))
    return fail("xlstm_tokenizer_encode: tokenizer, text, ids and count must "
                "not be NULL");
  std::vector<int64_t> encoded =
      tokenizer->tokenizer.encode(llvm::StringRef(text, length));
  *count = encoded.size();
  std::copy_n(encoded.begin(), std::min(capacity, encoded.size()), ids);
  return ok();
}

xlstm_status xlstm_tokenizer_decode(const xlstm_tokenizer *tokenizer,
                                    const int64_t *ids, size_t count,
                                    char *text, size_t capacity,
                                    size_t *length) {
  if (!tokenizer || (!ids && count) || !length || (capacity && !text))
    return fail("xlstm_tokenizer_decode: tokenizer, ids, text and length "
                "must not be NULL");
  llvm::Expected<std::string> decoded =
      tokenizer->tokenizer.decode(llvm::ArrayRef<int64_t>(ids, count));
  if (!decoded)
    return fail(decoded.takeError());
  *length = decoded->size();
  if (decoded->size() + 1 <= capacity)
    std::memcpy(text, decoded->c_str(), decoded->size() + 1);
  return ok();
}

} // extern "C"
