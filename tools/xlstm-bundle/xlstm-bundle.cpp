//===- xlstm-bundle.cpp - Inspect a .xlstmb bundle ------------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
//   xlstm-bundle MODEL.xlstmb                 summary: model, programs, kernels
//   xlstm-bundle MODEL.xlstmb --manifest      the manifest as JSON
//   xlstm-bundle MODEL.xlstmb --section NAME  the bytes of one section
// Checks the container like the runtime does (magic, version, checksum,
// bounds) and says what is inside. MLIR-free, like the runtime.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Bundle/Bundle.h"
#include "xlstm/Support/FatalErrors.h"
#include "xlstm/Version.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <map>
#include <set>

using namespace xlstm;
namespace cl = llvm::cl;
namespace json = llvm::json;

namespace {
cl::OptionCategory category("xlstm-bundle options");
cl::opt<std::string> path(cl::Positional, cl::Required,
                          cl::desc("<bundle .xlstmb>"), cl::cat(category));
cl::opt<bool> printManifest("manifest", cl::desc("Print the manifest (JSON)"),
                            cl::cat(category));
cl::opt<std::string> section("section",
                             cl::desc("Write the bytes of this section"),
                             cl::value_desc("name"), cl::cat(category));

int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "xlstm-bundle") << message << "\n";
  return 1;
}

/// Op names of a host-program body and its regions, with counts.
void countOps(const json::Array &body, std::map<std::string, int> &counts) {
  for (const json::Value &v : body) {
    const json::Object *op = v.getAsObject();
    if (!op)
      continue;
    if (std::optional<llvm::StringRef> name = op->getString("op"))
      ++counts[name->str()];
    for (llvm::StringRef region : {"body", "then", "else"})
      if (const json::Object *r = op->getObject(region))
        if (const json::Array *inner = r->getArray("body"))
          countOps(*inner, counts);
  }
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM y(argc, argv);
  xlstm::setVersionPrinter("xlstm-bundle");
  xlstm::reportFatalErrorsAsDiagnostics("xlstm-bundle");
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "xLSTM bundle inspector\n");

  llvm::Expected<bundle::Bundle> opened = bundle::Bundle::open(path);
  if (!opened)
    return fail(llvm::toString(opened.takeError()));
  const bundle::Bundle &b = *opened;
  llvm::raw_ostream &os = llvm::outs();

  if (printManifest) {
    os << llvm::formatv("{0:2}", json::Value(json::Object(b.manifest())))
       << "\n";
    return 0;
  }
  if (!section.empty()) {
    const bundle::Bundle::SectionView *s = b.find(section);
    if (!s)
      return fail("'" + path + "' has no section '" + section + "'");
    os << s->data;
    return 0;
  }

  const json::Object &m = b.manifest();
  os << "model: " << m.getString("model").value_or("?") << "\n";
  if (const json::Object *programs = m.getObject("programs")) {
    std::set<std::string> names;
    for (const auto &entry : *programs)
      names.insert(entry.first.str());
    for (const std::string &name : names) {
      const json::Object *p = programs->getObject(name);
      const json::Array *args = p ? p->getArray("arguments") : nullptr;
      const json::Array *results = p ? p->getArray("results") : nullptr;
      const json::Array *body = p ? p->getArray("body") : nullptr;
      if (!args || !results || !body)
        return fail("program '" + name + "' lacks arguments/results/body");
      std::map<std::string, int> roles, counts;
      for (const json::Value &a : *args)
        if (const json::Object *o = a.getAsObject())
          ++roles[o->getString("role").value_or("?").str()];
      countOps(*body, counts);
      os << "program " << name << ": " << args->size() << " arguments (";
      llvm::interleaveComma(
          roles, os, [&](const auto &r) { os << r.second << " " << r.first; });
      os << "), " << results->size() << " results\n  ops:";
      for (const auto &[op, n] : counts)
        os << " " << op << " x" << n;
      os << "\n";
    }
  }
  const json::Array *kernels = m.getArray("kernels");
  size_t withImage = 0, waiting = 0, total = kernels ? kernels->size() : 0;
  for (size_t i = 0; i < total; ++i)
    if (const json::Object *k = (*kernels)[i].getAsObject()) {
      if (std::optional<llvm::StringRef> s = k->getString("section"))
        withImage += b.find(*s) != nullptr;
      waiting += k->getBoolean("waits_on_previous_grid").value_or(false);
    }
  os << "kernels: " << total << " (" << withImage << " with an image";
  // (grid-dependency-wait: launched overlapping the kernel before them.)
  if (waiting)
    os << ", " << waiting << " waiting on the previous grid";
  os << ")\n";
  os << "sections: " << b.sections().size() << "\n";
  for (const bundle::Bundle::SectionView &s : b.sections())
    if (!llvm::StringRef(s.name).starts_with("kernels/"))
      os << "  " << s.name << " (" << s.kind << ", " << s.data.size()
         << " bytes)\n";
  return withImage == total ? 0 : fail("kernels without an image");
}
