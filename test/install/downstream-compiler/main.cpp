// Parses and verifies xlstm-dialect IR with the installed compiler
// libraries: the dialect registers, its ops parse and verify.
#include "xlstm/InitAll.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include <cstdio>

int main(int argc, char **argv) {
  if (argc != 2)
    return 2;
  mlir::DialectRegistry registry;
  xlstm::registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceFile<mlir::ModuleOp>(argv[1], &context);
  if (!module || mlir::failed(mlir::verify(*module)))
    return 1;
  std::printf("ops: %zu\n", static_cast<size_t>(std::distance(
                                module->getBody()->begin(),
                                module->getBody()->end())));
  return 0;
}
