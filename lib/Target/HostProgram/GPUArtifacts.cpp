//===- GPUArtifacts.cpp - Host programs and kernel images -----------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Target/HostProgram/GPUArtifacts.h"
#include "xlstm/Frontend/ModelBuilder.h"
#include "xlstm/Target/NVVM/Ptxas.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/ThreadPool.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"

#include <atomic>
#include <cmath>

using namespace mlir;
using llvm::createStringError;
using llvm::Error;
using llvm::Expected;
using llvm::raw_string_ostream;
using xlstm::GPUArtifacts;
namespace json = llvm::json;

namespace {

/// Integer ops a host program may use, by their MLIR names: the Integer
/// category of the runtime's host op table.
const llvm::StringSet<> kIntegerOps = {
#define HOST_OP(Kind, Name, Category) HOST_OP_##Category(Name)
#define HOST_OP_Integer(Name) Name,
#define HOST_OP_Special(Name)
#include "xlstm/Runtime/HostOps.def"
#undef HOST_OP_Integer
#undef HOST_OP_Special
};

/// "xlstm.causal_conv1d in blocks.0": the names a location carries, outer
/// first ("" when none), to say in profiles where a kernel comes from.
std::string origin(Location loc) {
  SmallVector<StringRef> names;
  loc->walk([&](Location l) {
    if (auto name = dyn_cast<NameLoc>(l))
      names.push_back(name.getName().getValue());
    return WalkResult::advance();
  });
  std::string text;
  for (StringRef n : names)
    text += (text.empty() ? "" : " in ") + n.str();
  return text;
}

json::Value dynamicOr(int64_t v) {
  return ShapedType::isDynamic(v) ? json::Value(nullptr) : json::Value(v);
}

json::Array list(ArrayRef<int64_t> values) {
  json::Array a;
  for (int64_t v : values)
    a.push_back(dynamicOr(v));
  return a;
}

class ProgramWriter {
public:
  ProgramWriter(StringRef suffix, GPUArtifacts &artifacts,
                llvm::StringMap<unsigned> &kernelIndex,
                const llvm::StringMap<std::string> &sectionOfModule)
      : suffix(suffix), artifacts(artifacts), kernelIndex(kernelIndex),
        sectionOfModule(sectionOfModule) {}

  Expected<json::Object> write(func::FuncOp fn) {
    json::Array arguments, results;
    for (BlockArgument arg : fn.getArguments()) {
      unsigned i = arg.getArgNumber();
      std::pair<StringLiteral, StringLiteral> roles[] = {
          {xlstm::kInputAttrName, "input"},
          {xlstm::kParamAttrName, "parameter"},
          {xlstm::kStateAttrName, "state"},
          {xlstm::kBufferAttrName, "buffer"}};
      json::Object entry;
      for (auto [attr, role] : roles)
        if (auto name = fn.getArgAttrOfType<StringAttr>(i, attr)) {
          entry["name"] = name.getValue();
          entry["role"] = role;
        }
      if (entry.empty())
        return fail(fn, "argument " + std::to_string(i) + " has no name");
      Expected<json::Value> type = typeOf(fn, arg.getType());
      if (!type)
        return type.takeError();
      entry["type"] = std::move(*type);
      number(arg);
      arguments.push_back(std::move(entry));
    }
    for (unsigned i = 0, e = fn.getNumResults(); i < e; ++i) {
      auto name = fn.getResultAttrOfType<StringAttr>(i, xlstm::kOutputAttrName);
      if (!name)
        name = fn.getResultAttrOfType<StringAttr>(i, xlstm::kStateAttrName);
      if (!name)
        return fail(fn, "result " + std::to_string(i) + " has no name");
      Expected<json::Value> type = typeOf(fn, fn.getResultTypes()[i]);
      if (!type)
        return type.takeError();
      results.push_back(
          json::Object{{"name", name.getValue()}, {"type", std::move(*type)}});
    }
    if (!fn.getBody().hasOneBlock())
      return fail(fn, "host functions must have one block");
    Expected<json::Array> body = writeBlock(fn.getBody().front());
    if (!body)
      return body.takeError();
    return json::Object{{"arguments", std::move(arguments)},
                        {"results", std::move(results)},
                        {"body", std::move(*body)}};
  }

private:
  Error fail(Operation *op, const Twine &message) {
    std::string loc;
    raw_string_ostream os(loc);
    op->getLoc().print(os);
    return createStringError("host program: " + message + " ('" +
                             op->getName().getStringRef() + "' at " + loc +
                             ")");
  }

  int64_t number(Value v) {
    int64_t id = next++;
    ids[v] = id;
    return id;
  }

  Expected<json::Value> typeOf(Operation *op, Type type) {
    if (type.isIndex())
      return json::Object{{"scalar", "index"}};
    if (type.isInteger(64) || type.isInteger(32) || type.isInteger(1))
      return json::Object{
          {"scalar", "i" + std::to_string(type.getIntOrFloatBitWidth())}};
    if (type.isF32() || type.isF64())
      return json::Object{{"scalar", type.isF32() ? "f32" : "f64"}};
    auto memref = dyn_cast<MemRefType>(type);
    if (!memref)
      return fail(op, "unsupported type");
    Type elt = memref.getElementType();
    std::string eltName;
    if (elt.isF32())
      eltName = "f32";
    else if (elt.isBF16())
      eltName = "bf16";
    else if (elt.isF16())
      eltName = "f16";
    else if (elt.isF64())
      eltName = "f64";
    else if (elt.isInteger(64))
      eltName = "i64";
    else if (elt.isInteger(32))
      eltName = "i32";
    else
      return fail(op, "unsupported memref element type");
    SmallVector<int64_t> strides;
    int64_t offset;
    if (failed(memref.getStridesAndOffset(strides, offset)))
      return fail(op, "memref layout is not strided");
    return json::Object{
        {"memref", json::Object{{"element", eltName},
                                {"shape", list(memref.getShape())},
                                {"strides", list(strides)},
                                {"offset", dynamicOr(offset)}}}};
  }

  Expected<json::Array> ids_(Operation *op, ValueRange values) {
    json::Array out;
    for (Value v : values) {
      auto it = ids.find(v);
      if (it == ids.end())
        return fail(op, "uses a value defined outside the host function");
      out.push_back(it->second);
    }
    return out;
  }

  Expected<json::Array> writeBlock(Block &block) {
    json::Array ops;
    // The constants of the block first, ordered by type and value: the
    // canonicalizer leaves them in the order it met them, which differs
    // between compiling a config and compiling its IR, and the same model
    // should make the same bundle.
    SmallVector<std::pair<std::string, Operation *>> constants;
    for (auto constant : block.getOps<arith::ConstantOp>()) {
      std::string key;
      llvm::raw_string_ostream os(key);
      os << constant.getType() << " " << constant.getValue();
      constants.push_back({key, constant});
    }
    llvm::stable_sort(constants, llvm::less_first());
    SmallVector<Operation *> order;
    for (auto &[key, constant] : constants)
      order.push_back(constant);
    for (Operation &op : block)
      if (!isa<arith::ConstantOp>(op))
        order.push_back(&op);
    for (Operation *opPtr : order) {
      Operation &op = *opPtr;
      if (isa<scf::YieldOp>(op))
        continue; // written by the enclosing region
      Expected<json::Object> entry = writeOp(op);
      if (!entry)
        return entry.takeError();
      ops.push_back(std::move(*entry));
    }
    return ops;
  }

  Expected<json::Object> writeRegion(Operation *owner, Region &region) {
    Block &block = region.front();
    json::Array args;
    for (BlockArgument a : block.getArguments())
      args.push_back(number(a));
    Expected<json::Array> body = writeBlock(block);
    if (!body)
      return body.takeError();
    Expected<json::Array> yields =
        ids_(owner, block.getTerminator()->getOperands());
    if (!yields)
      return yields.takeError();
    return json::Object{{"arguments", std::move(args)},
                        {"body", std::move(*body)},
                        {"yield", std::move(*yields)}};
  }

  Expected<json::Object> writeOp(Operation &op) {
    StringRef name = op.getName().getStringRef();
    bool known =
        isa<arith::ConstantOp, arith::CmpIOp, memref::DimOp, memref::AllocOp,
            memref::DeallocOp, memref::SubViewOp, memref::ExpandShapeOp,
            memref::CollapseShapeOp, memref::CastOp, memref::ReinterpretCastOp,
            memref::CopyOp, gpu::LaunchFuncOp, scf::ForOp, scf::IfOp,
            func::ReturnOp>(op) ||
        kIntegerOps.contains(name);
    if (!known)
      return fail(&op, "op not supported in host programs");
    json::Object entry{{"op", name}};
    // Operands first (regions number their block arguments after them).
    ValueRange operands = op.getOperands();
    if (auto launch = dyn_cast<gpu::LaunchFuncOp>(op))
      operands = {};
    Expected<json::Array> operandIds = ids_(&op, operands);
    if (!operandIds)
      return operandIds.takeError();
    entry["operands"] = std::move(*operandIds);

    Error error =
        TypeSwitch<Operation *, Error>(&op)
            .Case<arith::ConstantOp>([&](arith::ConstantOp c) -> Error {
              if (auto i = dyn_cast<IntegerAttr>(c.getValue())) {
                entry["value"] = i.getValue().getSExtValue();
                return Error::success();
              }
              if (auto f = dyn_cast<FloatAttr>(c.getValue())) {
                // JSON has no infinities or NaNs: strings then.
                double v = f.getValueAsDouble();
                if (std::isfinite(v))
                  entry["value"] = v;
                else
                  entry["value"] = std::isnan(v) ? "nan"
                                   : v > 0       ? "inf"
                                                 : "-inf";
                return Error::success();
              }
              return fail(&op, "non-scalar constant");
            })
            .Case<arith::CmpIOp>([&](arith::CmpIOp c) -> Error {
              entry["predicate"] =
                  arith::stringifyCmpIPredicate(c.getPredicate());
              return Error::success();
            })
            .Case<memref::SubViewOp>([&](memref::SubViewOp s) -> Error {
              entry["static_offsets"] = list(s.getStaticOffsets());
              entry["static_sizes"] = list(s.getStaticSizes());
              entry["static_strides"] = list(s.getStaticStrides());
              json::Array dropped;
              for (unsigned d : s.getDroppedDims().set_bits())
                dropped.push_back(d);
              entry["dropped_dims"] = std::move(dropped);
              return Error::success();
            })
            .Case<memref::ReinterpretCastOp>(
                [&](memref::ReinterpretCastOp r) -> Error {
                  entry["static_offsets"] = list(r.getStaticOffsets());
                  entry["static_sizes"] = list(r.getStaticSizes());
                  entry["static_strides"] = list(r.getStaticStrides());
                  return Error::success();
                })
            .Case<memref::ExpandShapeOp>([&](memref::ExpandShapeOp e) -> Error {
              entry["reassociation"] =
                  reassociation(e.getReassociationIndices());
              entry["static_output_shape"] = list(e.getStaticOutputShape());
              return Error::success();
            })
            .Case<memref::CollapseShapeOp>(
                [&](memref::CollapseShapeOp c) -> Error {
                  entry["reassociation"] =
                      reassociation(c.getReassociationIndices());
                  return Error::success();
                })
            .Case<memref::AllocOp>([&](memref::AllocOp a) -> Error {
              if (!a.getSymbolOperands().empty())
                return fail(&op, "alloc with symbol operands");
              return Error::success();
            })
            .Case<gpu::LaunchFuncOp>([&](gpu::LaunchFuncOp l) -> Error {
              return writeLaunch(l, entry);
            })
            .Case<scf::ForOp>([&](scf::ForOp f) -> Error {
              Expected<json::Object> body = writeRegion(&op, f.getRegion());
              if (!body)
                return body.takeError();
              entry["body"] = std::move(*body);
              return Error::success();
            })
            .Case<scf::IfOp>([&](scf::IfOp i) -> Error {
              Expected<json::Object> thenRegion =
                  writeRegion(&op, i.getThenRegion());
              if (!thenRegion)
                return thenRegion.takeError();
              entry["then"] = std::move(*thenRegion);
              if (i.getElseRegion().empty()) {
                entry["else"] = json::Object{{"arguments", json::Array{}},
                                             {"body", json::Array{}},
                                             {"yield", json::Array{}}};
                return Error::success();
              }
              Expected<json::Object> elseRegion =
                  writeRegion(&op, i.getElseRegion());
              if (!elseRegion)
                return elseRegion.takeError();
              entry["else"] = std::move(*elseRegion);
              return Error::success();
            })
            .Default([](Operation *) -> Error { return Error::success(); });
    if (error)
      return std::move(error);

    json::Array results, types;
    for (Value r : op.getResults()) {
      Expected<json::Value> type = typeOf(&op, r.getType());
      if (!type)
        return type.takeError();
      types.push_back(std::move(*type));
      results.push_back(number(r));
    }
    entry["results"] = std::move(results);
    entry["types"] = std::move(types);
    return entry;
  }

  static json::Array reassociation(ArrayRef<ReassociationIndices> groups) {
    json::Array out;
    for (const ReassociationIndices &g : groups) {
      json::Array inner;
      for (int64_t d : g)
        inner.push_back(d);
      out.push_back(std::move(inner));
    }
    return out;
  }

  Error writeLaunch(gpu::LaunchFuncOp launch, json::Object &entry) {
    if (launch.getAsyncToken() || !launch.getAsyncDependencies().empty() ||
        launch.hasClusterSize())
      return fail(launch, "async or clustered launches are not supported");
    // A kernel's overlapped launches (xlstm-grid-dependency-wait marks
    // those of some programs only) get a table entry of their own.
    bool waits = launch->hasAttr(xlstm::kWaitsOnPreviousGridAttr);
    std::string key =
        (launch.getKernelModuleName().getValue() +
         "::" + launch.getKernelName().getValue() + (waits ? "/waits" : ""))
            .str();
    auto [it, inserted] =
        kernelIndex.try_emplace(suffix + "/" + key, artifacts.kernels.size());
    if (inserted) {
      auto section = sectionOfModule.find(launch.getKernelModuleName());
      if (section == sectionOfModule.end())
        return fail(launch, "the kernel module has no gpu.binary");
      json::Object kernel{{"module", launch.getKernelModuleName().getValue()},
                          {"name", launch.getKernelName().getValue()},
                          {"section", section->second},
                          {"origin", origin(launch.getLoc())}};
      if (waits)
        kernel["waits_on_previous_grid"] = true;
      artifacts.kernels.push_back(std::move(kernel));
    }
    entry["kernel"] = it->second;
    gpu::KernelDim3 grid = launch.getGridSizeOperandValues();
    gpu::KernelDim3 block = launch.getBlockSizeOperandValues();
    for (auto [field, dims] :
         {std::make_pair("grid", grid), std::make_pair("block", block)}) {
      Expected<json::Array> dimIds =
          ids_(launch, ValueRange{dims.x, dims.y, dims.z});
      if (!dimIds)
        return dimIds.takeError();
      entry[field] = std::move(*dimIds);
    }
    if (Value shared = launch.getDynamicSharedMemorySize()) {
      Expected<json::Array> id = ids_(launch, shared);
      if (!id)
        return id.takeError();
      entry["shared_memory"] = (*id)[0];
    } else {
      entry["shared_memory"] = nullptr;
    }
    Expected<json::Array> args = ids_(launch, launch.getKernelOperands());
    if (!args)
      return args.takeError();
    for (Value a : launch.getKernelOperands())
      if (a.getType().isInteger(1))
        return fail(launch, "i1 kernel arguments are not supported");
    entry["args"] = std::move(*args);
    return Error::success();
  }

  std::string suffix;
  GPUArtifacts &artifacts;
  llvm::StringMap<unsigned> &kernelIndex;
  const llvm::StringMap<std::string> &sectionOfModule;
  DenseMap<Value, int64_t> ids;
  int64_t next = 0;
};

} // namespace

Error xlstm::collectGPUArtifacts(ModuleOp compiled, StringRef suffix,
                                 GPUArtifacts &artifacts) {
  // One section per distinct image: layers of the same shape compile to the
  // same PTX (the entry is named after the function, not the module), so
  // most modules share one. Sections are named by a hash of their contents.
  llvm::StringMap<std::string> sectionOfModule;
  llvm::StringSet<> added;
  for (auto binary : compiled.getOps<gpu::BinaryOp>()) {
    StringRef module = binary.getSymName();
    if (binary.getObjects().size() != 1)
      return createStringError("host program: gpu.binary @" + module +
                               " must hold exactly one object");
    auto object = cast<gpu::ObjectAttr>(binary.getObjects()[0]);
    if (object.getFormat() != gpu::CompilationTarget::Assembly)
      return createStringError("host program: gpu.binary @" + module +
                               " is not PTX (compile with format=isa)");
    StringRef ptx = object.getObject().getValue();
    std::string section = ("kernels/" + suffix + "/" +
                           llvm::utohexstr(llvm::xxh3_64bits(ptx)) + ".ptx")
                              .str();
    sectionOfModule[module] = section;
    if (added.insert(section).second)
      artifacts.sections.push_back({section, "ptx", ptx.str()});
  }
  // Kernels are keyed "<module>::<name>" within this element type, with
  // "/waits" for launches that overlap the grid before them.
  llvm::StringMap<unsigned> launched;
  // Every host function: @forward, @step, and where the pipeline added
  // them @prefill, @sample and @convert_<dtype>.
  for (auto fn : compiled.getOps<func::FuncOp>()) {
    if (fn.isExternal())
      continue;
    StringRef fnName = fn.getSymName();
    ProgramWriter writer(suffix, artifacts, launched, sectionOfModule);
    Expected<json::Object> program = writer.write(fn);
    if (!program)
      return program.takeError();
    artifacts.programs[(fnName + "_" + suffix).str()] = std::move(*program);
  }
  return Error::success();
}

Expected<std::vector<xlstm::KernelReport>>
xlstm::addCubins(GPUArtifacts &artifacts, StringRef ptxas,
                 ArrayRef<std::string> chips,
                 std::function<void(size_t, size_t)> onProgress) {
  // What each kernel ("<section>/<name>") is launched as.
  llvm::StringMap<std::vector<std::string>> origins;
  for (const json::Value &k : artifacts.kernels) {
    const json::Object *o = k.getAsObject();
    std::optional<StringRef> section = o->getString("section");
    std::optional<StringRef> name = o->getString("name");
    std::optional<StringRef> origin = o->getString("origin");
    if (section && name)
      origins[(*section + "/" + *name).str()].push_back(origin ? origin->str()
                                                               : "");
  }
  struct Job {
    size_t section;
    std::string chip;
    Expected<PtxasResult> result = createStringError("not run");
  };
  std::vector<Job> jobs;
  for (size_t i = 0; i < artifacts.sections.size(); ++i)
    if (artifacts.sections[i].kind == "ptx")
      for (const std::string &chip : chips)
        jobs.push_back({i, chip});
  {
    llvm::DefaultThreadPool pool;
    std::atomic<size_t> done = 0;
    for (Job &job : jobs)
      pool.async([&job, &artifacts, ptxas, &done, &jobs, &onProgress] {
        job.result =
            runPtxas(ptxas, artifacts.sections[job.section].data, job.chip);
        if (onProgress)
          onProgress(++done, jobs.size());
      });
    pool.wait();
  }
  std::vector<KernelReport> reports;
  llvm::StringMap<json::Object> cubinsOf;
  std::vector<bundle::Section> cubins;
  for (Job &job : jobs) {
    if (!job.result)
      return job.result.takeError();
    const bundle::Section &ptx = artifacts.sections[job.section];
    std::string name =
        (StringRef(ptx.name).drop_back(4) + "." + job.chip + ".cubin").str();
    cubins.push_back({name, "cubin", std::move(job.result->cubin)});
    cubinsOf[ptx.name][job.chip] = name;
    for (const KernelResources &k : job.result->kernels) {
      KernelReport report{ptx.name, k.name, job.chip,
                          origins.lookup(ptx.name + "/" + k.name)};
      report.registers = k.registers;
      report.sharedBytes = k.sharedBytes;
      report.stackBytes = k.stackBytes;
      report.spillStoreBytes = k.spillStoreBytes;
      report.spillLoadBytes = k.spillLoadBytes;
      reports.push_back(std::move(report));
    }
  }
  for (json::Value &k : artifacts.kernels) {
    json::Object *o = k.getAsObject();
    auto it = cubinsOf.find(*o->getString("section"));
    if (it != cubinsOf.end())
      (*o)["cubins"] = json::Object(it->second);
  }
  std::move(cubins.begin(), cubins.end(),
            std::back_inserter(artifacts.sections));
  return reports;
}
