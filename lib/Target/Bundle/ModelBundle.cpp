//===- ModelBundle.cpp - Write a compiled model as a .xlstmb --------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Target/Bundle/ModelBundle.h"
#include "xlstm/Bundle/Bundle.h"
#include "xlstm/Config/ConfigParser.h"
#include "xlstm/Frontend/ModelBuilder.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace llvm;

namespace {
std::string typeName(Type type) {
  std::string s;
  raw_string_ostream os(s);
  os << getElementTypeOrSelf(type);
  return s;
}

/// {"name", "shape" (-1 = dynamic), "dtype"} of a tensor.
json::Object tensorEntry(StringRef name, Type type) {
  json::Array shape;
  for (int64_t d : cast<RankedTensorType>(type).getShape())
    shape.push_back(ShapedType::isDynamic(d) ? int64_t(-1) : d);
  return json::Object{
      {"name", name}, {"shape", std::move(shape)}, {"dtype", typeName(type)}};
}
} // namespace

Expected<std::string> xlstm::serializeModelBundle(ModuleOp module,
                                                  const config::ModelSpec &spec,
                                                  GPUArtifacts gpu) {
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward)
    return createStringError("the module has no @forward");
  // The resolved config in the upstream schema; the runtime reads it back.
  std::string configText;
  {
    raw_string_ostream os(configText);
    config::printModelSpec(spec, os);
  }

  json::Array params, states;
  for (unsigned i = 1, e = forward.getNumArguments(); i < e; ++i) {
    auto name = forward.getArgAttrOfType<StringAttr>(i, kParamAttrName);
    json::Object entry =
        tensorEntry(name.getValue(), forward.getArgument(i).getType());
    if (auto aliases =
            forward.getArgAttrOfType<ArrayAttr>(i, kAliasesAttrName)) {
      json::Array list;
      for (StringRef alias : aliases.getAsValueRange<StringAttr>())
        list.push_back(alias);
      entry["aliases"] = std::move(list);
    }
    params.push_back(std::move(entry));
  }
  for (unsigned i = 1, e = forward.getNumResults(); i < e; ++i)
    states.push_back(tensorEntry(
        forward.getResultAttrOfType<StringAttr>(i, kStateAttrName).getValue(),
        forward.getResultTypes()[i]));

  StringRef input = forward.getArgAttrOfType<StringAttr>(0, kInputAttrName);
  StringRef output =
      forward.getResultAttrOfType<StringAttr>(0, kOutputAttrName);
  json::Object manifest{
      {"producer", "xlstmc"},
      {"model", module->getAttrOfType<StringAttr>(kModelAttrName).getValue()},
      {"config", configText},
      {"input", tensorEntry(input, forward.getArgument(0).getType())},
      {"output", tensorEntry(output, forward.getResultTypes()[0])},
      {"parameters", std::move(params)},
      {"states", std::move(states)},
      {"functions", json::Array{"forward", "step"}},
      {"kernels", std::move(gpu.kernels)},
      {"programs", std::move(gpu.programs)}};

  // Generation settings of a Hugging Face config.json (BOS/EOS/padding),
  // which the upstream-schema config above has no fields for.
  if (spec.specialTokens) {
    const config::ModelSpec::SpecialTokens &t = *spec.specialTokens;
    json::Array eos;
    for (int64_t id : t.eos)
      eos.push_back(id);
    json::Object tokens{{"force_bos_token_insert", t.forceBosInsert},
                        {"eos", std::move(eos)}};
    if (t.bos)
      tokens["bos"] = *t.bos;
    if (t.pad)
      tokens["pad"] = *t.pad;
    manifest["special_tokens"] = std::move(tokens);
  }

  std::string ir;
  raw_string_ostream irStream(ir);
  module.print(irStream);
  std::vector<bundle::Section> sections = {
      {kGraphSectionName.str(), "mlir", ir}};
  std::move(gpu.sections.begin(), gpu.sections.end(),
            std::back_inserter(sections));
  return bundle::serialize(manifest, sections);
}
