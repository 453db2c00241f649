# Installs the build tree into a fresh prefix and checks that the tools, the
# runtime's C API header, the generated headers and the libraries are there.
#   cmake -DBUILD_DIR=... -DPREFIX=... -P check-install.cmake
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}"
                        --prefix "${PREFIX}"
                RESULT_VARIABLE status OUTPUT_QUIET)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${status})")
endif()
foreach(path
    bin/xlstmc bin/xlstm-opt bin/xlstm-run bin/xlstm-bundle bin/xlstm-compare
    bin/xlstm-gpu-info
    include/xlstm/Runtime/xlstm_runtime.h include/xlstm/Version.h
    include/xlstm/VersionInfo.inc
    include/xlstm/Dialect/XLSTM/IR/XLSTMOps.h.inc
    include/xlstm/Dialect/XLSTM/IR/XLSTMOps.td
    include/xlstm/Conversion/Passes.h.inc
    lib/libXLSTMRuntime.a lib/libXLSTMBundle.a lib/libXLSTMConfig.a
    lib/libXLSTMWeights.a lib/libXLSTMTokenizer.a lib/libMLIRXLSTM.a
    lib/libxlstm_runtime.so share/xlstm/python/xlstm/__init__.py
    bin/xlstm-generate bin/xlstm-tokenize)
  if(NOT EXISTS "${PREFIX}/${path}")
    message(FATAL_ERROR "not installed: ${path}")
  endif()
endforeach()
execute_process(COMMAND "${PREFIX}/bin/xlstmc" --version
                OUTPUT_VARIABLE version RESULT_VARIABLE status)
if(NOT status EQUAL 0 OR NOT version MATCHES "^xlstmc \\(xlstm-mlir ")
  message(FATAL_ERROR "the installed xlstmc does not run: ${version}")
endif()
message(STATUS "install tree complete: ${PREFIX}")
