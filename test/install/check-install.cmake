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
    bin/xlstm-generate bin/xlstm-tokenize lib/cmake/XLSTM/XLSTMConfig.cmake
    lib/pkgconfig/xlstm-runtime.pc)
  if(NOT EXISTS "${PREFIX}/${path}")
    message(FATAL_ERROR "not installed: ${path}")
  endif()
endforeach()
execute_process(COMMAND "${PREFIX}/bin/xlstmc" --version
                OUTPUT_VARIABLE version RESULT_VARIABLE status)
if(NOT status EQUAL 0 OR NOT version MATCHES "^xlstmc \\(xlstm-mlir ")
  message(FATAL_ERROR "the installed xlstmc does not run: ${version}")
endif()

# A downstream C program against the installed tree: through
# find_package(XLSTM) (XLSTM::Runtime) and through pkg-config.
set(downstream "${PREFIX}/downstream-build")
execute_process(COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}/test/install/downstream"
                        -B "${downstream}" "-DCMAKE_PREFIX_PATH=${PREFIX}"
                RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "configuring a downstream project failed:\n${out}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${downstream}"
                RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "building a downstream project failed:\n${out}")
endif()
set(tokenizer "${SOURCE_DIR}/../shared/tokenizers/gpt-neox-20b/tokenizer.json")
execute_process(COMMAND "${downstream}/downstream" "${tokenizer}"
                        "${PREFIX}/no-such-model.xlstmb"
                RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT status EQUAL 0 OR NOT out MATCHES "ids: 12092 1533"
   OR NOT out MATCHES "model: .*no-such-model.xlstmb")
  message(FATAL_ERROR "the downstream program failed (${status}):\n${out}")
endif()
find_program(pkg_config pkg-config)
if(pkg_config)
  execute_process(COMMAND "${CMAKE_COMMAND}" -E env
                          "PKG_CONFIG_PATH=${PREFIX}/lib/pkgconfig"
                          "${pkg_config}" --cflags --libs xlstm-runtime
                  RESULT_VARIABLE status OUTPUT_VARIABLE flags
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  separate_arguments(flags UNIX_COMMAND "${flags}")
  execute_process(COMMAND cc "${SOURCE_DIR}/test/install/downstream/main.c"
                          ${flags} -o "${PREFIX}/downstream-pc"
                  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "building with pkg-config flags failed:\n${out}")
  endif()
  execute_process(COMMAND "${PREFIX}/downstream-pc" "${tokenizer}"
                  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT status EQUAL 0 OR NOT out MATCHES "ids: 12092 1533")
    message(FATAL_ERROR "the pkg-config build failed to run:\n${out}")
  endif()
endif()
# The compiler libraries through find_package(XLSTM COMPONENTS Compiler):
# a C++ program that parses and verifies xlstm IR the installed xlstmc made.
set(compiler_build "${PREFIX}/downstream-compiler-build")
execute_process(COMMAND "${CMAKE_COMMAND}" -G Ninja
                        -S "${SOURCE_DIR}/test/install/downstream-compiler"
                        -B "${compiler_build}" "-DCMAKE_PREFIX_PATH=${PREFIX}"
                        -DCMAKE_BUILD_TYPE=Release
                        "-DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld"
                RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "configuring a compiler downstream failed:\n${out}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${compiler_build}"
                RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "building a compiler downstream failed:\n${out}")
endif()
execute_process(COMMAND "${PREFIX}/bin/xlstmc"
                        "${SOURCE_DIR}/python-free-configs/readme_stack.yaml"
                        --emit=mlir -o "${PREFIX}/stack.mlir")
execute_process(COMMAND "${compiler_build}/downstream-compiler"
                        "${PREFIX}/stack.mlir"
                RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT status EQUAL 0 OR NOT out MATCHES "ops: 2")
  message(FATAL_ERROR "the compiler downstream failed (${status}):\n${out}")
endif()
message(STATUS "install tree complete: ${PREFIX}")
