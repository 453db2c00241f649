//===- GPUModel.cpp - A compiled model resident on one GPU ----------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Runtime/GPUModel.h"
#include "xlstm/Weights/Safetensors.h"

#include "llvm/ADT/StringExtras.h"

#include <cmath>

using namespace xlstm;
using namespace xlstm::runtime;
using llvm::createStringError;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;
namespace json = llvm::json;

weights::DType xlstm::runtime::toDType(ElementKind kind) {
  switch (kind) {
  case ElementKind::F32:
    return weights::DType::F32;
  case ElementKind::BF16:
    return weights::DType::BF16;
  case ElementKind::F16:
    return weights::DType::F16;
  case ElementKind::F64:
    return weights::DType::F64;
  case ElementKind::I64:
  case ElementKind::I32: // GPUModel::load rejects programs with i32 buffers
    return weights::DType::I64;
  }
  return weights::DType::F32;
}

namespace {

/// "name" and "shape" (-1 = dynamic) of a manifest tensor entry.
Expected<std::pair<std::string, llvm::SmallVector<int64_t, 4>>>
tensorEntry(const json::Value *value, StringRef what) {
  const json::Object *o = value ? value->getAsObject() : nullptr;
  const json::Array *shape = o ? o->getArray("shape") : nullptr;
  std::optional<StringRef> name = o ? o->getString("name") : std::nullopt;
  if (!name || !shape)
    return createStringError("the manifest's %s lacks a name or a shape",
                             what.str().c_str());
  llvm::SmallVector<int64_t, 4> dims;
  for (const json::Value &d : *shape) {
    std::optional<int64_t> v = d.getAsInteger();
    if (!v || *v < -1)
      return createStringError("the manifest's %s '%s' has a bad shape",
                               what.str().c_str(), name->str().c_str());
    dims.push_back(*v);
  }
  return std::make_pair(name->str(), std::move(dims));
}

} // namespace

GPUModel::~GPUModel() = default;

std::string GPUModel::getKernelName(unsigned index) const {
  if (index >= kernels.size())
    return "?";
  const KernelRef &k = kernels[index];
  // (A function's overlapped launches have an entry of their own.)
  std::string name =
      k.module + "::" + k.name + (k.waitsOnPreviousGrid ? ", overlapped" : "");
  return k.origin.empty() ? name : k.origin + " (" + name + ")";
}

Expected<std::unique_ptr<GPUModel>> GPUModel::load(const bundle::Bundle &bundle,
                                                   const Context &context,
                                                   StringRef dtype,
                                                   int64_t vocabSize) {
  const json::Object &manifest = bundle.manifest();
  auto bad = [&](const llvm::Twine &message) {
    return createStringError(bundle.name() + ": " + message);
  };
  std::unique_ptr<GPUModel> model(new GPUModel());
  model->vocabSize = vocabSize;
  model->context = &context;

  const json::Value *kernelTable = manifest.get("kernels");
  const json::Object *programs = manifest.getObject("programs");
  if (!kernelTable || !programs)
    return bad("the bundle has no GPU programs (compiled without the GPU "
               "backend?)");
  Expected<std::vector<KernelRef>> kernels = parseKernels(*kernelTable);
  if (!kernels)
    return bad(llvm::toString(kernels.takeError()));
  for (StringRef fn : {"forward", "step"}) {
    std::string key = (fn + "_" + dtype).str();
    const json::Value *program = programs->get(key);
    if (!program) {
      std::vector<std::string> have;
      for (const auto &entry : *programs)
        have.push_back(entry.first.str());
      llvm::sort(have);
      return bad("the bundle has no program '" + key +
                 "' (it has: " + llvm::join(have, ", ") +
                 "); compile it with xlstmc --dtype " + dtype);
    }
    Expected<HostProgram> parsed = HostProgram::parse(*program, *kernels);
    if (!parsed)
      return bad(key + ": " + llvm::toString(parsed.takeError()));
    // The model's tensors are float buffers (tokens: i64); anything else is
    // not a program this runtime can bind or read back.
    auto bindable = [](const Type &type) {
      return type.memref && type.memrefType.element != ElementKind::I32;
    };
    for (const ProgramArgument &arg : parsed->getArguments())
      if (!bindable(arg.type))
        return bad(key + ": argument '" + arg.name +
                   "' is not a float or i64 buffer");
    for (const ProgramResult &result : parsed->getResults())
      if (!bindable(result.type))
        return bad(key + ": result '" + result.name +
                   "' is not a float or i64 buffer");
    (fn == StringRef("forward") ? model->forwardProgram : model->stepProgram) =
        std::move(*parsed);
  }

  // Programs this xlstmc adds and older bundles lack: conversions of
  // checkpoint tensors stored in another float type, and for token models
  // the prefill (the forward with the last position's logits only) and
  // the sampler. Without them the host converts, prefill runs the forward
  // and the host samples. Each must have its buffer arguments.
  auto optionalProgram =
      [&](StringRef key, llvm::ArrayRef<StringRef> buffers)
      -> Expected<std::optional<HostProgram>> {
    const json::Value *program = programs->get(key);
    if (!program)
      return std::nullopt;
    Expected<HostProgram> parsed = HostProgram::parse(*program, *kernels);
    if (!parsed)
      return bad(key + ": " + llvm::toString(parsed.takeError()));
    for (StringRef name : buffers) {
      std::optional<unsigned> index = parsed->findArgument(name);
      if (!index || parsed->getArguments()[*index].role != "buffer" ||
          !parsed->getArguments()[*index].type.memref)
        return bad(key + ": no buffer argument '" + name + "'");
    }
    return std::optional<HostProgram>(std::move(*parsed));
  };
  for (weights::DType stored :
       {weights::DType::F32, weights::DType::BF16, weights::DType::F16}) {
    std::string key = StringRef(("convert_" + weights::toString(stored) +
                                 "_" + dtype)
                                    .str())
                          .lower();
    Expected<std::optional<HostProgram>> convert =
        optionalProgram(key, {"source", "target"});
    if (!convert)
      return convert.takeError();
    if (*convert)
      model->converters.emplace(stored, std::move(**convert));
  }
  Expected<std::optional<HostProgram>> prefill =
      optionalProgram(("prefill_" + dtype).str(), {});
  if (!prefill)
    return prefill.takeError();
  model->prefillProgram = std::move(*prefill);
  Expected<std::optional<HostProgram>> sample = optionalProgram(
      ("sample_" + dtype).str(), {"logits", "seen", "settings", "rng", "tokens"});
  if (!sample)
    return sample.takeError();
  model->sampleProgram = std::move(*sample);

  // The tables the runtime binds by name.
  Expected<std::pair<std::string, llvm::SmallVector<int64_t, 4>>> input =
      tensorEntry(manifest.get("input"), "input");
  Expected<std::pair<std::string, llvm::SmallVector<int64_t, 4>>> output =
      tensorEntry(manifest.get("output"), "output");
  if (!input)
    return input.takeError();
  if (!output)
    return output.takeError();
  model->inputName = input->first;
  model->outputName = output->first;
  const json::Array *params = manifest.getArray("parameters");
  const json::Array *states = manifest.getArray("states");
  if (!params || !states)
    return bad("the manifest has no parameter or state table");
  for (const json::Value &p : *params) {
    Expected<std::pair<std::string, llvm::SmallVector<int64_t, 4>>> entry =
        tensorEntry(&p, "parameter");
    if (!entry)
      return entry.takeError();
    weights::ParamDesc desc{entry->first, entry->second, {}};
    if (const json::Array *aliases = p.getAsObject()->getArray("aliases"))
      for (const json::Value &a : *aliases)
        if (std::optional<StringRef> s = a.getAsString())
          desc.aliases.push_back(s->str());
    model->params.push_back(std::move(desc));
  }
  for (const json::Value &s : *states) {
    Expected<std::pair<std::string, llvm::SmallVector<int64_t, 4>>> entry =
        tensorEntry(&s, "state");
    if (!entry)
      return entry.takeError();
    model->stateNames.push_back(entry->first);
    model->stateShapes.push_back(entry->second);
  }

  // A cubin built for this device's architecture loads without JIT.
  const DeviceProperties &device = context.getProperties();
  std::string chip = "sm_" + std::to_string(device.computeCapabilityMajor) +
                     std::to_string(device.computeCapabilityMinor);
  // Kernels that wait on the previous grid (griddepcontrol) are sm_90 code.
  if (device.computeCapabilityMajor < 9)
    for (const KernelRef &kernel : *kernels)
      if (kernel.waitsOnPreviousGrid)
        return bad("kernel '" + kernel.name + "' of module '" + kernel.module +
                   "' waits on the previous grid (compiled with "
                   "grid-dependency-wait, xlstmc's default from --chip=sm_90), "
                   "which needs an sm_90 or later GPU; this one is " +
                   chip + ": compile the model for --chip=" + chip);
  Expected<std::unique_ptr<CudaBackend>> backend = CudaBackend::create(
      context, *kernels, [&](const KernelRef &kernel) -> Expected<StringRef> {
        for (const auto &[arch, name] : kernel.cubins)
          if (arch == chip)
            if (const bundle::Bundle::SectionView *cubin = bundle.find(name))
              return StringRef(cubin->data);
        const bundle::Bundle::SectionView *section =
            bundle.find(kernel.section);
        if (!section)
          return bad("kernel '" + kernel.name + "' of module '" +
                     kernel.module + "' has no section '" + kernel.section +
                     "'");
        return StringRef(section->data);
      });
  if (!backend)
    return backend.takeError();
  model->backend = std::move(*backend);
  model->kernels = std::move(*kernels);
  return model;
}

Expected<GPUSession> GPUSession::open(const bundle::Bundle &bundle,
                                      StringRef dtype, int64_t vocabSize,
                                      int ordinal) {
  GPUSession session;
  Expected<std::unique_ptr<CudaDriver>> driver = CudaDriver::load();
  if (!driver)
    return driver.takeError();
  session.driver = std::move(*driver);
  Expected<Context> context = Context::create(*session.driver, ordinal);
  if (!context)
    return context.takeError();
  session.context = std::make_unique<Context>(std::move(*context));
  Expected<std::unique_ptr<GPUModel>> model =
      GPUModel::load(bundle, *session.context, dtype, vocabSize);
  if (!model)
    return model.takeError();
  session.model = std::move(*model);
  return session;
}

void GPUModel::setGraphReplay(bool on) {
  graphReplay = on;
  if (!on) {
    recordings.clear();
    decodeGraphs.clear();
  }
}

size_t GPUModel::getNumRecordings() const { return recordings.size(); }

Error GPUModel::uploadParameters(
    size_t count,
    llvm::function_ref<std::pair<llvm::ArrayRef<uint8_t>, weights::DType>(
        size_t, weights::DType, std::vector<uint8_t> &)>
        encode,
    llvm::function_ref<void(size_t)> uploaded) {
  // Recordings hold the previous parameters' buffers.
  recordings.clear();
  decodeGraphs.clear();
  unrecordable.clear();
  if (count != params.size())
    return createStringError("%zu parameter values for %zu parameters", count,
                             params.size());
  parameterValues.clear();
  std::vector<uint8_t> staging;
  for (auto [i, desc] : llvm::enumerate(params)) {
    std::optional<unsigned> index = forwardProgram->findArgument(desc.name);
    if (!index)
      return createStringError("the program has no parameter '%s'",
                               desc.name.c_str());
    const Type &type = forwardProgram->getArguments()[*index].type;
    if (!type.memref)
      return createStringError("parameter '%s' is not a buffer",
                               desc.name.c_str());
    ElementKind element = type.memrefType.element;
    Expected<MemRefValue> buffer =
        allocateMemRef(*backend, element, desc.shape);
    if (!buffer)
      return buffer.takeError();
    // cuMemcpyHtoD from pageable memory returns once the source is
    // consumed, so the staging buffer can be refilled right away.
    auto [data, stored] = encode(i, toDType(element), staging);
    size_t expected =
        size_t(*buffer->getNumElements()) * weights::elementSize(stored);
    if (data.size() != expected)
      return createStringError("parameter '%s': %zu bytes given, %zu expected",
                               desc.name.c_str(), data.size(), expected);
    if (stored == toDType(element)) {
      if (Error e = backend->copyFromHost(*buffer->allocation, 0, data.data(),
                                          data.size()))
        return e;
    } else if (Error e = convertOnDevice(data, stored, *buffer)) {
      return createStringError("parameter '" + desc.name +
                               "': " + llvm::toString(std::move(e)));
    }
    if (uploaded)
      uploaded(i);
    parameterValues[desc.name] = Value::getMemRef(std::move(*buffer));
  }
  return backend->synchronize();
}

Error GPUModel::convertOnDevice(llvm::ArrayRef<uint8_t> data,
                                weights::DType stored,
                                const MemRefValue &target) {
  auto it = converters.find(stored);
  if (it == converters.end())
    return createStringError("no conversion from %s on the device",
                             weights::toString(stored).str().c_str());
  int64_t count = *target.getNumElements();
  if (count == 0)
    return Error::success();
  // The stored bytes go up as they are; the program converts them into the
  // parameter's buffer (a flat view of it). The staging buffer returns to
  // the pool afterwards; the next upload (synchronous) waits for the
  // conversion before it can reuse it.
  const HostProgram &convert = it->second;
  ElementKind sourceKind = convert.getArguments()[*convert.findArgument("source")]
                               .type.memrefType.element;
  Expected<MemRefValue> source = allocateMemRef(*backend, sourceKind, {count});
  if (!source)
    return source.takeError();
  if (Error e = backend->copyFromHost(*source->allocation, 0, data.data(),
                                      data.size()))
    return e;
  MemRefValue flat = target;
  flat.sizes = {count};
  flat.strides = {1};
  llvm::StringMap<Value> named;
  named["source"] = Value::getMemRef(std::move(*source));
  named["target"] = Value::getMemRef(std::move(flat));
  Expected<std::vector<Value>> arguments = bindArguments(convert, named);
  if (!arguments)
    return arguments.takeError();
  Expected<std::vector<Value>> results =
      execute(convert, *backend, *arguments);
  return results ? Error::success() : results.takeError();
}

Error GPUModel::setParameters(llvm::ArrayRef<HostArray> values) {
  if (values.size() != params.size())
    return createStringError("%zu parameter values for %zu parameters",
                             values.size(), params.size());
  for (auto [value, desc] : llvm::zip(values, params)) {
    if (!weights::isFloat(value.dtype) ||
        llvm::ArrayRef<int64_t>(value.shape) !=
            llvm::ArrayRef<int64_t>(desc.shape))
      return createStringError("parameter '%s': expected %s floats, got %s",
                               desc.name.c_str(),
                               formatShape(desc.shape).c_str(),
                               value.describe().c_str());
    if (Error e = value.verify("parameter '" + desc.name + "'"))
      return e;
  }
  return uploadParameters(
      values.size(), [&](size_t i, weights::DType dtype,
                         std::vector<uint8_t> &staging) {
        const HostArray &value = values[i];
        if (value.dtype == dtype || converters.count(value.dtype))
          return std::make_pair(llvm::ArrayRef<uint8_t>(value.bytes),
                                value.dtype);
        staging.resize(size_t(value.getNumElements()) *
                       weights::elementSize(dtype));
        weights::convertElements(value.bytes, value.dtype, staging, dtype);
        return std::make_pair(llvm::ArrayRef<uint8_t>(staging), dtype);
      });
}

Error GPUModel::setParameters(llvm::ArrayRef<weights::BoundTensor> bound) {
  return uploadParameters(
      bound.size(), [&](size_t i, weights::DType dtype,
                        std::vector<uint8_t> &staging) {
        const weights::BoundTensor &source = bound[i];
        // Straight from the mapped file, converted on the GPU where the
        // stored type differs and the bundle has the conversion.
        weights::DType stored = source.tensor->dtype;
        if (!source.layoutChange &&
            (stored == dtype || converters.count(stored)))
          return std::make_pair(source.bytes(), stored);
        staging.resize(size_t(source.count) * weights::elementSize(dtype));
        source.encode(dtype, staging);
        return std::make_pair(llvm::ArrayRef<uint8_t>(staging), dtype);
      },
      // The copy has consumed the mapped pages: a 7B load keeps no more
      // than one tensor of the checkpoint resident.
      [&](size_t i) { bound[i].releasePages(); });
}

std::vector<HostArray> GPUModel::zeroStates(int64_t batch) const {
  std::vector<HostArray> out;
  for (auto [name, shape] : llvm::zip(stateNames, stateShapes)) {
    llvm::SmallVector<int64_t, 4> concrete(shape);
    for (int64_t &d : concrete)
      if (d < 0)
        d = batch;
    // (load checked that the step program takes every state.)
    std::optional<unsigned> index = stepProgram->findArgument(name);
    ElementKind element =
        index ? stepProgram->getArguments()[*index].type.memrefType.element
              : ElementKind::F32;
    out.emplace_back(toDType(element), concrete);
  }
  return out;
}

Expected<GPUModel::Result> GPUModel::forward(const HostInput &input) {
  return run(*forwardProgram, input, {});
}

Expected<GPUModel::Result> GPUModel::step(const HostInput &input,
                                          llvm::ArrayRef<HostArray> states) {
  if (states.size() != stateNames.size())
    return createStringError("step: %zu states given, the model has %zu",
                             states.size(), stateNames.size());
  if (input.seq != 1)
    return createStringError("step: the input must have one position, got "
                             "%lld",
                             static_cast<long long>(input.seq));
  // Kernels index states by the input's batch: shapes must agree exactly.
  for (size_t i = 0; i < states.size(); ++i) {
    llvm::SmallVector<int64_t, 4> expected(stateShapes[i]);
    for (int64_t &d : expected)
      if (d < 0)
        d = input.batch;
    if (llvm::ArrayRef<int64_t>(states[i].shape) !=
        llvm::ArrayRef<int64_t>(expected))
      return createStringError("step: state '%s' does not have the shape "
                               "of batch %lld",
                               stateNames[i].c_str(),
                               static_cast<long long>(input.batch));
    if (!weights::isFloat(states[i].dtype))
      return createStringError("step: state '%s' is %s, not a float type",
                               stateNames[i].c_str(),
                               states[i].describe().c_str());
    if (Error e = states[i].verify("step: state '" + stateNames[i] + "'"))
      return std::move(e);
  }
  return run(*stepProgram, input, states);
}

Expected<GPUModel::EncodedArgument>
GPUModel::encodeArgument(const HostProgram &program, StringRef name,
                         const HostArray &t) const {
  std::optional<unsigned> index = program.findArgument(name);
  if (!index)
    return createStringError("the program has no argument '%s'",
                             name.str().c_str());
  ElementKind element = program.getArguments()[*index].type.memrefType.element;
  HostArray encoded = t.convertTo(toDType(element));
  return EncodedArgument{element, encoded.shape, std::move(encoded.bytes)};
}

Expected<std::vector<Value>>
GPUModel::prepare(const HostProgram &program, const EncodedArgument &input,
                  llvm::ArrayRef<HostArray> states) {
  llvm::StringMap<Value> named;
  Expected<Value> in = uploadArgument(input);
  if (!in)
    return in.takeError();
  named[inputName] = std::move(*in);
  for (auto [name, state] : llvm::zip(stateNames, states)) {
    Expected<EncodedArgument> encoded = encodeArgument(program, name, state);
    if (!encoded)
      return encoded.takeError();
    Expected<Value> v = uploadArgument(*encoded);
    if (!v)
      return v.takeError();
    named[name] = std::move(*v);
  }
  return bindWithParameters(program, std::move(named));
}

Expected<GPUModel::Benchmark>
GPUModel::benchmarkForward(const HostInput &hostInput, unsigned warmup,
                           unsigned iterations, bool profile) {
  Expected<EncodedArgument> input = encodeHostInput(*forwardProgram, hostInput);
  if (!input)
    return input.takeError();
  Expected<std::vector<Value>> arguments = prepare(*forwardProgram, *input, {});
  if (!arguments)
    return arguments.takeError();
  Expected<Event> start = Event::create(*context);
  if (!start)
    return start.takeError();
  Expected<Event> end = Event::create(*context);
  if (!end)
    return end.takeError();
  // Per-launch profiling runs launch by launch; otherwise replay a graph
  // when that is on, as forward() does.
  Recorded *graph = nullptr;
  if (graphReplay && !profile) {
    Expected<Recorded *> r = recorded(*forwardProgram, *input, {});
    if (!r)
      return r.takeError();
    graph = *r;
  }
  Benchmark result;
  for (unsigned i = 0; i < warmup + iterations; ++i) {
    bool timed = i >= warmup;
    if (Error e = backend->setProfiling(timed && profile))
      return std::move(e);
    if (timed)
      if (Error e = start->record(backend->getStream()))
        return std::move(e);
    if (graph) {
      if (Error e = graph->recording->replay())
        return std::move(e);
    } else {
      Expected<std::vector<Value>> results =
          execute(*forwardProgram, *backend, *arguments);
      if (!results)
        return results.takeError();
    }
    if (timed) {
      if (Error e = end->record(backend->getStream()))
        return std::move(e);
      if (Error e = end->synchronize())
        return std::move(e);
      Expected<float> ms = Event::elapsedMilliseconds(*start, *end);
      if (!ms)
        return ms.takeError();
      result.milliseconds.push_back(*ms);
    }
  }
  if (Error e = backend->setProfiling(false))
    return std::move(e);
  Expected<std::vector<CudaBackend::KernelTime>> times = backend->takeProfile();
  if (!times)
    return times.takeError();
  result.kernels = std::move(*times);
  for (const CudaBackend::KernelTime &k : result.kernels)
    result.launchesPerRun += k.launches;
  if (iterations > 0)
    result.launchesPerRun /= iterations;
  return result;
}

GPUModel::ShapeKey GPUModel::shapeKey(const HostProgram &program,
                                      const EncodedArgument &input) {
  return {&program,
          std::vector<int64_t>(input.shape.begin(), input.shape.end())};
}

Expected<GPUModel::Recorded *>
GPUModel::recorded(const HostProgram &program, const EncodedArgument &input,
                   llvm::ArrayRef<HostArray> states) {
  ShapeKey key = shapeKey(program, input);
  auto it = recordings.find(key);
  if (it == recordings.end()) {
    // A recording keeps every buffer of a run: keep the most recently used
    // few.
    if (recordings.size() >= kMaxRecordings) {
      auto oldest =
          llvm::min_element(recordings, [](const auto &x, const auto &y) {
            return x.second.lastUse < y.second.lastUse;
          });
      recordings.erase(oldest);
    }
    Expected<std::vector<Value>> arguments = prepare(program, input, states);
    if (!arguments)
      return arguments.takeError();
    Recorded entry;
    entry.arguments = std::move(*arguments);
    Expected<std::unique_ptr<CudaBackend::Recording>> recording =
        backend->record([&]() -> Error {
          Expected<std::vector<Value>> results =
              execute(program, *backend, entry.arguments);
          if (!results)
            return results.takeError();
          entry.results = std::move(*results);
          return Error::success();
        });
    if (!recording)
      return createStringError("recording a CUDA graph: " +
                               toString(recording.takeError()));
    entry.recording = std::move(*recording);
    entry.lastUse = ++useClock;
    return &recordings.emplace(key, std::move(entry)).first->second;
  }
  it->second.lastUse = ++useClock;
  // Refill the recorded input and state buffers (ordered after earlier
  // replays: host copies wait for the stream).
  Recorded &entry = it->second;
  auto refill = [&](StringRef name, llvm::ArrayRef<uint8_t> bytes) -> Error {
    const MemRefValue &m =
        entry.arguments[*program.findArgument(name)].getMemRef();
    return backend->copyFromHost(*m.allocation,
                                 m.offset * getElementBytes(m.element),
                                 bytes.data(), bytes.size());
  };
  if (Error e = refill(inputName, input.bytes))
    return std::move(e);
  for (auto [name, state] : llvm::zip(stateNames, states)) {
    Expected<EncodedArgument> encoded = encodeArgument(program, name, state);
    if (!encoded)
      return encoded.takeError();
    if (Error e = refill(name, encoded->bytes))
      return std::move(e);
  }
  return &entry;
}

Expected<GPUModel::Result> GPUModel::run(const HostProgram &program,
                                         const HostInput &hostInput,
                                         llvm::ArrayRef<HostArray> states) {
  Expected<EncodedArgument> input = encodeHostInput(program, hostInput);
  if (!input)
    return input.takeError();
  // A shape is recorded on its second run (one-off shapes, such as prompts
  // of varying length, are not worth a graph and the memory it pins); a
  // shape whose recording failed runs launch by launch.
  ShapeKey key = shapeKey(program, *input);
  if (graphReplay && !unrecordable.count(key) &&
      (recordings.count(key) || ++runsWithoutGraph[key] >= 2)) {
    Expected<Recorded *> entry = recorded(program, *input, states);
    if (entry) {
      if (Error e = (*entry)->recording->replay())
        return std::move(e);
      if (Error e = backend->synchronize())
        return std::move(e);
      return collect(program, (*entry)->results);
    }
    // The run itself reports real errors below.
    consumeError(entry.takeError());
    unrecordable.insert(key);
  }
  Expected<std::vector<Value>> arguments = prepare(program, *input, states);
  if (!arguments)
    return arguments.takeError();
  Expected<std::vector<Value>> results = execute(program, *backend, *arguments);
  if (!results)
    return results.takeError();
  if (Error e = backend->synchronize())
    return std::move(e);
  return collect(program, *results);
}

Expected<GPUModel::Result> GPUModel::collect(const HostProgram &program,
                                             llvm::ArrayRef<Value> results) {
  // Downloads every result as it is.
  Result result;
  llvm::StringMap<HostArray> byName;
  for (auto [value, desc] : llvm::zip(results, program.getResults())) {
    const MemRefValue &m = value.getMemRef();
    if (!m.isContiguous())
      return createStringError("result '%s' is not contiguous",
                               desc.name.c_str());
    std::optional<int64_t> count = m.getNumElements();
    if (!count)
      return createStringError("result '%s' is too large", desc.name.c_str());
    size_t elementBytes = getElementBytes(m.element);
    HostArray array(toDType(m.element), m.sizes);
    if (*count > 0)
      if (Error e = backend->copyToHost(array.bytes.data(), *m.allocation,
                                        m.offset * elementBytes,
                                        array.bytes.size()))
        return std::move(e);
    byName[desc.name] = std::move(array);
  }
  auto take = [&](StringRef name) -> Expected<HostArray> {
    auto it = byName.find(name);
    if (it == byName.end())
      return createStringError("the program returns no '%s'",
                               name.str().c_str());
    return std::move(it->second);
  };
  Expected<HostArray> output = take(outputName);
  if (!output)
    return output.takeError();
  result.output = std::move(*output);
  for (const std::string &name : stateNames) {
    Expected<HostArray> state = take(name);
    if (!state)
      return state.takeError();
    result.states.push_back(std::move(*state));
  }
  return result;
}
