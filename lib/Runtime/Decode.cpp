//===- Decode.cpp - Device-resident prefill and decoding ------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// GPUModel's decoding API: states live on the device in DeviceState
// objects; prefill writes the forward program's final states into one and
// returns the last position's output only; a decode step replays a graph
// recorded for its (state, batch) that runs the step program and copies
// the new states back into the state's own buffers, so nothing but the
// tokens and the output crosses the bus per token.
//
//===----------------------------------------------------------------------===//

#include "HostProgramSupport.h"
#include "xlstm/Runtime/GPUModel.h"
#include "xlstm/Weights/Safetensors.h"

#include "llvm/Support/MathExtras.h"

#include <array>
#include <cstring>

using namespace xlstm;
using namespace xlstm::runtime;
using llvm::createStringError;
using llvm::Error;
using llvm::Expected;

namespace {
/// Device-to-device copy of a whole contiguous memref into another of the
/// same type and size.
Error copyMemRef(CudaBackend &backend, const MemRefValue &to,
                 const MemRefValue &from, llvm::StringRef what) {
  std::optional<int64_t> n = from.getNumElements();
  if (!n || to.getNumElements() != n || to.element != from.element ||
      !to.isContiguous() || !from.isContiguous())
    return createStringError("%s: the program's state does not match the "
                             "state buffers",
                             what.str().c_str());
  size_t bytes = getElementBytes(from.element);
  return backend.copy(*to.allocation, to.offset * bytes, *from.allocation,
                      from.offset * bytes, *n * bytes);
}
} // namespace

Expected<std::unique_ptr<GPUModel::DeviceState>>
GPUModel::createState(int64_t batch) {
  if (batch < 1)
    return createStringError("a state needs at least one row, got batch %lld",
                             static_cast<long long>(batch));
  auto state = std::make_unique<DeviceState>();
  state->batch = batch;
  state->id = ++nextStateId;
  for (auto [name, shape] : llvm::zip(stateNames, stateShapes)) {
    std::optional<unsigned> index = stepProgram->findArgument(name);
    if (!index)
      return createStringError("the step program has no state '%s'",
                               name.c_str());
    ElementKind element =
        stepProgram->getArguments()[*index].type.memrefType.element;
    llvm::SmallVector<int64_t, 4> concrete(shape);
    for (int64_t &d : concrete)
      if (d < 0)
        d = batch;
    Expected<MemRefValue> buffer = allocateMemRef(*backend, element, concrete);
    if (!buffer)
      return buffer.takeError();
    // Zeros: the bytes of 0.0 in every float format.
    std::vector<uint8_t> zeros(buffer->allocation->getBytes(), 0);
    if (Error e = backend->copyFromHost(*buffer->allocation, 0, zeros.data(),
                                        zeros.size()))
      return std::move(e);
    state->values.push_back(Value::getMemRef(std::move(*buffer)));
    Expected<MemRefValue> spare = allocateMemRef(*backend, element, concrete);
    if (!spare)
      return spare.takeError();
    state->spare.push_back(Value::getMemRef(std::move(*spare)));
  }
  return state;
}

void GPUModel::forgetState(const DeviceState &state) {
  for (auto it = decodeGraphs.begin(); it != decodeGraphs.end();)
    it = it->first.first == state.id ? decodeGraphs.erase(it) : std::next(it);
}

Expected<std::vector<HostArray>>
GPUModel::readState(const DeviceState &state) {
  if (Error e = backend->synchronize())
    return std::move(e);
  std::vector<HostArray> out;
  for (const Value &v : state.values) {
    const MemRefValue &m = v.getMemRef();
    HostArray t(toDType(m.element), m.sizes);
    if (Error e = backend->copyToHost(t.bytes.data(), *m.allocation,
                                      m.offset * getElementBytes(m.element),
                                      t.bytes.size()))
      return std::move(e);
    out.push_back(std::move(t));
  }
  return out;
}

Error GPUModel::writeState(DeviceState &state,
                           llvm::ArrayRef<HostArray> values) {
  if (values.size() != state.values.size())
    return createStringError("%zu state values for %zu states", values.size(),
                             state.values.size());
  for (auto [v, t, name] : llvm::zip(state.values, values, stateNames)) {
    const MemRefValue &m = v.getMemRef();
    if (llvm::ArrayRef<int64_t>(m.sizes) != llvm::ArrayRef<int64_t>(t.shape))
      return createStringError("state '%s' does not have the shape of batch "
                               "%lld",
                               name.c_str(),
                               static_cast<long long>(state.batch));
    if (!weights::isFloat(t.dtype))
      return createStringError("state '%s' is %s, not a float type",
                               name.c_str(), t.describe().c_str());
    if (Error e = t.verify("state '" + name + "'"))
      return e;
    HostArray encoded = t.convertTo(toDType(m.element));
    if (Error e = backend->copyFromHost(
            *m.allocation, m.offset * getElementBytes(m.element),
            encoded.bytes.data(), encoded.bytes.size()))
      return e;
  }
  return Error::success();
}

Error GPUModel::copyStateRows(const DeviceState &from, DeviceState &to,
                              int64_t firstRow) {
  if (firstRow < 0 || from.batch > to.batch ||
      firstRow > to.batch - from.batch)
    return createStringError("rows [%lld, %lld) are outside a state of batch "
                             "%lld",
                             static_cast<long long>(firstRow),
                             static_cast<long long>(firstRow + from.batch),
                             static_cast<long long>(to.batch));
  // Batch is every state's leading dimension and the buffers are
  // contiguous: a state's rows are one run of bytes.
  for (auto [source, target, name] :
       llvm::zip(from.values, to.values, stateNames)) {
    const MemRefValue &s = source.getMemRef(), &t = target.getMemRef();
    size_t bytes = getElementBytes(s.element);
    size_t rowBytes = size_t(*s.getNumElements() / from.batch) * bytes;
    if (s.element != t.element || !s.isContiguous() || !t.isContiguous() ||
        size_t(*t.getNumElements() / to.batch) * bytes != rowBytes)
      return createStringError("state '%s': the two states do not match",
                               name.c_str());
    if (Error e = backend->copy(*t.allocation,
                                t.offset * bytes + firstRow * rowBytes,
                                *s.allocation, s.offset * bytes,
                                from.batch * rowBytes))
      return e;
  }
  return Error::success();
}

Expected<GPUModel::EncodedArgument>
GPUModel::encodeHostInput(const HostProgram &program,
                          const HostInput &input) const {
  std::optional<unsigned> index = program.findArgument(inputName);
  if (!index)
    return createStringError("the program has no input '%s'",
                             inputName.c_str());
  ElementKind element = program.getArguments()[*index].type.memrefType.element;
  // Sizes come from the caller (the C++ API takes raw pointers): positive,
  // and their product must not overflow.
  int64_t count = 0;
  if (input.batch < 1 || input.seq < 1 ||
      llvm::MulOverflow(input.batch, input.seq, count) ||
      count > (int64_t(1) << 40))
    return createStringError("an input of batch %lld and %lld positions is "
                             "not a valid size",
                             static_cast<long long>(input.batch),
                             static_cast<long long>(input.seq));
  if (inputName == "tokens") {
    if (!input.tokens)
      return createStringError("the model reads int64 tokens");
    for (int64_t i = 0; i < count; ++i)
      if (input.tokens[i] < 0 || input.tokens[i] >= vocabSize)
        return createStringError("token %lld (row %lld, position %lld) is out "
                                 "of range [0, %lld)",
                                 static_cast<long long>(input.tokens[i]),
                                 static_cast<long long>(i / input.seq),
                                 static_cast<long long>(i % input.seq),
                                 static_cast<long long>(vocabSize));
    std::vector<uint8_t> bytes(count * sizeof(int64_t));
    std::memcpy(bytes.data(), input.tokens, bytes.size());
    return EncodedArgument{element, {input.batch, input.seq}, std::move(bytes)};
  }
  if (!input.embeddings)
    return createStringError("the model reads float32 embeddings");
  const auto &shape = program.getArguments()[*index].type.memrefType.shape;
  int64_t e = shape.empty() ? -1 : shape.back();
  if (e < 0)
    return createStringError("the input's width is not static");
  std::vector<uint8_t> bytes(size_t(count * e) *
                             weights::elementSize(toDType(element)));
  weights::convertElements(
      llvm::ArrayRef<uint8_t>(
          reinterpret_cast<const uint8_t *>(input.embeddings),
          size_t(count * e) * sizeof(float)),
      weights::DType::F32, bytes, toDType(element));
  return EncodedArgument{element, {input.batch, input.seq, e}, std::move(bytes)};
}

Expected<Value> GPUModel::uploadArgument(const EncodedArgument &input) {
  Expected<MemRefValue> buffer =
      allocateMemRef(*backend, input.element, input.shape);
  if (!buffer)
    return buffer.takeError();
  if (Error e = backend->copyFromHost(*buffer->allocation, 0,
                                      input.bytes.data(), input.bytes.size()))
    return std::move(e);
  return Value::getMemRef(std::move(*buffer));
}

Expected<std::vector<Value>>
GPUModel::bindWithParameters(const HostProgram &program,
                             llvm::StringMap<Value> named) {
  if (parameterValues.empty() && !params.empty())
    return createStringError("the parameters are not set");
  for (const ProgramArgument &arg : program.getArguments())
    if (arg.role == "parameter") {
      auto it = parameterValues.find(arg.name);
      if (it == parameterValues.end())
        return createStringError("parameter '%s' is not set", arg.name.c_str());
      named[arg.name] = it->second;
    }
  return bindArguments(program, named);
}

Error GPUModel::copyOutputRows(const Value &output, int64_t position,
                               llvm::MutableArrayRef<float> out) {
  const MemRefValue &m = output.getMemRef();
  if (m.getRank() != 3 || !m.isContiguous())
    return createStringError("the output is not a contiguous (batch, seq, "
                             "width) buffer");
  int64_t batch = m.sizes[0], seq = m.sizes[1], width = m.sizes[2];
  if (int64_t(out.size()) != batch * width)
    return createStringError("the output needs %lld floats, %zu given",
                             static_cast<long long>(batch * width),
                             out.size());
  size_t bytes = getElementBytes(m.element);
  std::vector<uint8_t> row(width * bytes);
  for (int64_t b = 0; b < batch; ++b) {
    int64_t first = m.offset + (b * seq + position) * width;
    if (Error e = backend->copyToHost(row.data(), *m.allocation,
                                      first * bytes, row.size()))
      return e;
    weights::convertElements(
        row, toDType(m.element),
        llvm::MutableArrayRef<uint8_t>(
            reinterpret_cast<uint8_t *>(out.data() + b * width),
            width * sizeof(float)),
        weights::DType::F32);
  }
  return Error::success();
}

Error GPUModel::prefill(const HostInput &input, DeviceState &state,
                        llvm::MutableArrayRef<float> lastOutput) {
  if (input.batch != state.batch || input.seq < 1)
    return createStringError("prefill: the input has batch %lld and %lld "
                             "positions, the state batch %lld",
                             static_cast<long long>(input.batch),
                             static_cast<long long>(input.seq),
                             static_cast<long long>(state.batch));
  const HostProgram &program =
      prefillProgram ? *prefillProgram : *forwardProgram;
  Expected<EncodedArgument> encoded = encodeHostInput(program, input);
  if (!encoded)
    return encoded.takeError();
  Expected<Value> uploaded = uploadArgument(*encoded);
  if (!uploaded)
    return uploaded.takeError();
  llvm::StringMap<Value> named;
  named[inputName] = std::move(*uploaded);
  Expected<std::vector<Value>> arguments =
      bindWithParameters(program, std::move(named));
  if (!arguments)
    return arguments.takeError();
  Expected<std::vector<Value>> results = execute(program, *backend, *arguments);
  if (!results)
    return results.takeError();
  // The final states go into the state's own buffers (step graphs recorded
  // for it read those).
  Value output;
  for (auto [value, desc] : llvm::zip(*results, program.getResults())) {
    if (desc.name == outputName) {
      output = value;
      continue;
    }
    auto it = llvm::find(stateNames, desc.name);
    if (it == stateNames.end())
      continue;
    if (Error e = copyMemRef(*backend,
                             state.values[it - stateNames.begin()].getMemRef(),
                             value.getMemRef(), "prefill"))
      return e;
  }
  if (output.isNone())
    return createStringError("the forward program has no result '%s'",
                             outputName.c_str());
  // The prefill program's output is the last position already.
  if (!lastOutput.empty())
    return copyOutputRows(output, prefillProgram ? 0 : input.seq - 1,
                          lastOutput);
  return backend->synchronize();
}

// Runs the step on `input` with the new states allocated in the state's
// spare buffers; a new state the program makes as a view (not its own
// allocation) is copied there (inside the recording when recording).
Error GPUModel::enqueueStep(DeviceState &state, const Value &input,
                            std::vector<Value> &results) {
  llvm::StringMap<Value> named;
  named[inputName] = input;
  for (auto [name, value] : llvm::zip(stateNames, state.values))
    named[name] = value;
  Expected<std::vector<Value>> arguments =
      bindWithParameters(*stepProgram, std::move(named));
  if (!arguments)
    return arguments.takeError();
  // Result i is state stateOf[i] (or none, -1).
  std::vector<int> stateOf;
  std::vector<std::shared_ptr<Allocation>> storage;
  for (const auto &desc : stepProgram->getResults()) {
    auto it = llvm::find(stateNames, desc.name);
    stateOf.push_back(it == stateNames.end() ? -1 : it - stateNames.begin());
    storage.push_back(stateOf.back() < 0
                          ? nullptr
                          : state.spare[stateOf.back()].getMemRef().allocation);
  }
  Expected<std::vector<Value>> out =
      execute(*stepProgram, *backend, *arguments, storage);
  if (!out)
    return out.takeError();
  results = std::move(*out);
  for (auto [value, index, given] : llvm::zip(results, stateOf, storage)) {
    if (index < 0)
      continue;
    const MemRefValue &result = value.getMemRef();
    const MemRefValue &spare = state.spare[index].getMemRef();
    if (result.allocation != given) {
      if (Error e = copyMemRef(*backend, spare, result, "decode step"))
        return e;
    } else if (result.element != spare.element ||
               result.sizes != spare.sizes) {
      // Landed by byte count alone: the layout must be the state's too.
      return createStringError(
          "decode step: the new state '%s' is %s %s, the state holds %s %s",
          stateNames[index].c_str(), getName(result.element).str().c_str(),
          detail::formatList(result.sizes).c_str(),
          getName(spare.element).str().c_str(),
          detail::formatList(spare.sizes).c_str());
    }
  }
  return Error::success();
}

Expected<Value> GPUModel::stepOutput(llvm::ArrayRef<Value> results) const {
  for (auto [value, desc] : llvm::zip(results, stepProgram->getResults()))
    if (desc.name == outputName)
      return value;
  return createStringError("the step program has no result '%s'",
                           outputName.c_str());
}

GPUModel::DecodeGraphMap::iterator GPUModel::recordDecodeGraph(
    DecodeGraphKey key, DecodeGraph graph,
    llvm::function_ref<Error(DecodeGraph &)> enqueue) {
  if (decodeGraphs.size() >= kMaxRecordings)
    decodeGraphs.erase(
        llvm::min_element(decodeGraphs, [](const auto &x, const auto &y) {
          return x.second.lastUse < y.second.lastUse;
        }));
  Expected<std::unique_ptr<CudaBackend::Recording>> recording =
      backend->record([&] { return enqueue(graph); });
  if (!recording) {
    // Run launch by launch; the step itself reports real errors.
    consumeError(recording.takeError());
    return decodeGraphs.end();
  }
  graph.recording = std::move(*recording);
  return decodeGraphs.emplace(key, std::move(graph)).first;
}

Error GPUModel::decodeStep(const HostInput &input, DeviceState &state,
                           llvm::MutableArrayRef<float> output) {
  if (input.batch != state.batch || input.seq != 1)
    return createStringError("decode step: the input has batch %lld and %lld "
                             "positions, the state batch %lld (one position "
                             "per step)",
                             static_cast<long long>(input.batch),
                             static_cast<long long>(input.seq),
                             static_cast<long long>(state.batch));
  Expected<EncodedArgument> encoded = encodeHostInput(*stepProgram, input);
  if (!encoded)
    return encoded.takeError();

  auto key = std::make_pair(state.id, input.batch * 2 + state.parity);
  auto it = decodeGraphs.find(key);
  if (graphReplay && it == decodeGraphs.end()) {
    Expected<MemRefValue> buffer =
        allocateMemRef(*backend, encoded->element, encoded->shape);
    if (!buffer)
      return buffer.takeError();
    DecodeGraph graph;
    graph.input = Value::getMemRef(std::move(*buffer));
    it = recordDecodeGraph(key, std::move(graph), [&](DecodeGraph &g) {
      return enqueueStep(state, g.input, g.results);
    });
  }
  if (graphReplay && it != decodeGraphs.end()) {
    DecodeGraph &graph = it->second;
    graph.lastUse = ++useClock;
    const MemRefValue &in = graph.input.getMemRef();
    if (Error e = backend->copyFromHost(*in.allocation, 0,
                                        encoded->bytes.data(),
                                        encoded->bytes.size()))
      return e;
    if (Error e = graph.recording->replay())
      return e;
    state.swapSets();
    Expected<Value> out = stepOutput(graph.results);
    if (!out)
      return out.takeError();
    return output.empty() ? backend->synchronize()
                          : copyOutputRows(*out, 0, output);
  }

  Expected<Value> uploaded = uploadArgument(*encoded);
  if (!uploaded)
    return uploaded.takeError();
  std::vector<Value> results;
  if (Error e = enqueueStep(state, *uploaded, results))
    return e;
  state.swapSets();
  Expected<Value> out = stepOutput(results);
  if (!out)
    return out.takeError();
  return output.empty() ? backend->synchronize()
                        : copyOutputRows(*out, 0, output);
}

//===----------------------------------------------------------------------===//
// Sampling on the device
//===----------------------------------------------------------------------===//

Error GPUModel::startSampling(DeviceState &state,
                              const SamplingOptions &options,
                              llvm::ArrayRef<std::vector<int64_t>> history,
                              llvm::ArrayRef<int64_t> next, uint64_t draws) {
  if (!sampleProgram)
    return createStringError("the bundle has no sampling program for this "
                             "dtype (compile it again with this xlstmc)");
  if (Error e = options.validate())
    return e;
  int64_t batch = state.batch;
  if (int64_t(history.size()) != batch || int64_t(next.size()) != batch)
    return createStringError("startSampling: %zu histories and %zu next "
                             "tokens for a state of batch %lld",
                             history.size(), next.size(),
                             static_cast<long long>(batch));
  auto inVocabulary = [&](int64_t t) { return t >= 0 && t < vocabSize; };
  for (int64_t r = 0; r < batch; ++r) {
    if (!inVocabulary(next[r]))
      return createStringError("startSampling: token %lld of row %lld is "
                               "out of range [0, %lld)",
                               static_cast<long long>(next[r]),
                               static_cast<long long>(r),
                               static_cast<long long>(vocabSize));
    for (int64_t t : history[r])
      if (!inVocabulary(t))
        return createStringError("startSampling: the history of row %lld "
                                 "has token %lld, out of range [0, %lld)",
                                 static_cast<long long>(r),
                                 static_cast<long long>(t),
                                 static_cast<long long>(vocabSize));
  }
  int64_t words = (vocabSize + 31) / 32;
  // Allocated once (recorded generate steps keep pointing at them), all
  // four or none.
  if (state.tokens.isNone()) {
    struct Buffer {
      ElementKind element;
      llvm::SmallVector<int64_t, 2> shape;
    };
    std::vector<Value> made;
    for (const Buffer &b : {Buffer{ElementKind::I64, {batch, 1}},
                            Buffer{ElementKind::I32, {batch, words}},
                            Buffer{ElementKind::F32, {4}},
                            Buffer{ElementKind::I64, {batch, 2}}}) {
      Expected<MemRefValue> buffer = allocateMemRef(*backend, b.element, b.shape);
      if (!buffer)
        return buffer.takeError();
      made.push_back(Value::getMemRef(std::move(*buffer)));
    }
    state.tokens = made[0];
    state.seen = made[1];
    state.settings = made[2];
    state.rng = made[3];
  }
  std::vector<uint32_t> seen(batch * words, 0);
  std::vector<int64_t> rng(batch * 2);
  for (int64_t r = 0; r < batch; ++r) {
    for (int64_t t : history[r])
      seen[r * words + t / 32] |= 1u << (t % 32);
    rng[2 * r] = int64_t(options.seed);
    rng[2 * r + 1] = int64_t(draws);
  }
  std::array<float, 4> settings = options.deviceSettings(vocabSize);
  auto upload = [&](const Value &to, const void *data, size_t bytes) {
    return backend->copyFromHost(*to.getMemRef().allocation, 0, data, bytes);
  };
  if (Error e = upload(state.tokens, next.data(), batch * sizeof(int64_t)))
    return e;
  if (Error e = upload(state.seen, seen.data(), seen.size() * 4))
    return e;
  if (Error e = upload(state.settings, settings.data(), sizeof settings))
    return e;
  return upload(state.rng, rng.data(), rng.size() * sizeof(int64_t));
}

Error GPUModel::enqueueSample(DeviceState &state, const Value &logits) {
  llvm::StringMap<Value> named;
  named["logits"] = logits;
  named["seen"] = state.seen;
  named["settings"] = state.settings;
  named["rng"] = state.rng;
  named["tokens"] = state.tokens;
  Expected<std::vector<Value>> arguments =
      bindArguments(*sampleProgram, named);
  if (!arguments)
    return arguments.takeError();
  Expected<std::vector<Value>> results =
      execute(*sampleProgram, *backend, *arguments);
  return results ? Error::success() : results.takeError();
}

Error GPUModel::generateStep(DeviceState &state) {
  if (state.tokens.isNone())
    return createStringError("generateStep: the state has no sampling "
                             "buffers (call startSampling first)");
  auto run = [&](std::vector<Value> &results) -> Error {
    if (Error e = enqueueStep(state, state.tokens, results))
      return e;
    Expected<Value> logits = stepOutput(results);
    if (!logits)
      return logits.takeError();
    return enqueueSample(state, *logits);
  };
  // Generate recordings are keyed apart from decodeStep's (batch * 2 +
  // parity >= 2).
  auto key = std::make_pair(state.id, int64_t(state.parity));
  auto it = decodeGraphs.find(key);
  if (graphReplay && it == decodeGraphs.end())
    it = recordDecodeGraph(key, DecodeGraph(),
                           [&](DecodeGraph &g) { return run(g.results); });
  if (graphReplay && it != decodeGraphs.end()) {
    it->second.lastUse = ++useClock;
    if (Error e = it->second.recording->replay())
      return e;
    state.swapSets();
    return Error::success();
  }
  std::vector<Value> results;
  if (Error e = run(results))
    return e;
  state.swapSets();
  return Error::success();
}

Error GPUModel::readTokens(const DeviceState &state,
                           llvm::MutableArrayRef<int64_t> out) {
  if (state.tokens.isNone())
    return createStringError("readTokens: the state has no sampling buffers "
                             "(call startSampling first)");
  if (int64_t(out.size()) != state.batch)
    return createStringError("readTokens: %zu slots for %lld rows", out.size(),
                             static_cast<long long>(state.batch));
  return backend->copyToHost(out.data(), *state.tokens.getMemRef().allocation,
                             0, out.size() * sizeof(int64_t));
}
