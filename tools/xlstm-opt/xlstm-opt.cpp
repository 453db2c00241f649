//===- xlstm-opt.cpp - Inspect and transform xlstm IR ---------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The opt tool: parses xlstm IR (and the upstream dialects the lowering
// produces), runs any registered pass or pipeline, prints the result.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Conversion/Passes.h"
#include "xlstm/InitAll.h"
#include "xlstm/Target/NVVM/Pipelines.h"
#include "xlstm/Support/FatalErrors.h"
#include "xlstm/Version.h"

#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  xlstm::setVersionPrinter("xlstm-opt");
  xlstm::reportFatalErrorsAsDiagnostics("xlstm-opt");
  mlir::DialectRegistry registry;
  xlstm::registerAllDialects(registry);
  xlstm::registerGPUDialects(registry);
  xlstm::registerNVVMTargetInterfaces(registry);
  xlstm::registerToGPUDependencies(registry);
  xlstm::registerAllPasses();
  xlstm::registerXLSTMConversionPasses();
  xlstm::registerXLSTMToGPUPipeline();
  xlstm::registerNVVMPipelines();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "xLSTM optimizer driver\n", registry));
}
