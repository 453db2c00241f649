//===- xlstm-compare.cpp - Compare tensors of two safetensors files -------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
//   xlstm-compare OUT.safetensors EXPECTED.safetensors --keys y,logits
//                 --tolerance 1e-5
// For every key: the relative error ||out - expected|| / ||expected|| over
// the whole tensor (shared/golden/README.md), NaN/Inf checks, one line each;
// exits 1 if any key is missing, mis-shaped (unit dimensions aside),
// non-finite or above tolerance.
// Integer tensors (generated tokens) must match exactly.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Support/FatalErrors.h"
#include "xlstm/Version.h"
#include "xlstm/Weights/Safetensors.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/WithColor.h"
#include <cmath>

using namespace xlstm::weights;
namespace cl = llvm::cl;

namespace {
cl::OptionCategory category("xlstm-compare options");
cl::opt<std::string> actualPath(cl::Positional, cl::Required,
                                cl::desc("<actual .safetensors>"),
                                cl::cat(category));
cl::opt<std::string> expectedPath(cl::Positional, cl::Required,
                                  cl::desc("<expected .safetensors>"),
                                  cl::cat(category));
cl::list<std::string> keys("keys", cl::CommaSeparated, cl::OneOrMore,
                           cl::desc("Tensors to compare"), cl::cat(category));
cl::opt<double> tolerance("tolerance",
                          cl::desc("Largest accepted relative error"),
                          cl::init(1e-5), cl::cat(category));
/// The shape without unit dimensions: upstream keeps some (the mLSTM `m`
/// state is (B, NH, 1) there, (B, NH) here); other differences are errors.
llvm::SmallVector<int64_t> squeezed(llvm::ArrayRef<int64_t> shape) {
  llvm::SmallVector<int64_t> out;
  for (int64_t d : shape)
    if (d != 1)
      out.push_back(d);
  return out;
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM y(argc, argv);
  xlstm::setVersionPrinter("xlstm-compare");
  xlstm::reportFatalErrorsAsDiagnostics("xlstm-compare");
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "Compare xLSTM outputs\n");
  auto actual = SafetensorsFile::open(actualPath);
  auto expected = SafetensorsFile::open(expectedPath);
  for (auto *file : {&actual, &expected})
    if (!*file) {
      llvm::WithColor::error(llvm::errs(), "xlstm-compare")
          << llvm::toString(file->takeError()) << "\n";
      return 1;
    }
  bool ok = true;
  for (const std::string &key : keys) {
    const TensorView *a = actual->find(key), *e = expected->find(key);
    llvm::outs() << key << ": ";
    if (!a || !e) {
      llvm::outs() << "missing in " << (a ? expectedPath : actualPath) << "\n";
      ok = false;
      continue;
    }
    if (squeezed(a->shape) != squeezed(e->shape)) {
      llvm::outs() << "shape " << a->shapeString() << " != expected "
                   << e->shapeString() << "\n";
      ok = false;
      continue;
    }
    std::vector<double> av = toF64(*a), ev = toF64(*e);
    if (!isFloat(e->dtype)) {
      int64_t mismatches = 0;
      for (size_t i = 0; i < av.size(); ++i)
        mismatches += av[i] != ev[i];
      llvm::outs() << mismatches << " of " << av.size() << " differ"
                   << (mismatches ? "  FAIL" : "  ok") << "\n";
      ok &= mismatches == 0;
      continue;
    }
    double diff = 0, norm = 0;
    bool finite = true;
    for (size_t i = 0; i < av.size(); ++i) {
      finite &= std::isfinite(av[i]);
      diff += (av[i] - ev[i]) * (av[i] - ev[i]);
      norm += ev[i] * ev[i];
    }
    double rel = norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
    bool pass = finite && rel <= tolerance;
    llvm::outs() << "relative error " << llvm::format("%.3e", rel)
                 << " (tolerance " << llvm::format("%.1e", tolerance.getValue())
                 << ")" << (finite ? "" : ", NaN/Inf present")
                 << (pass ? "  ok" : "  FAIL") << "\n";
    ok &= pass;
  }
  return ok ? 0 : 1;
}
