#!/usr/bin/env bash
# Builds the project with AddressSanitizer and UndefinedBehaviorSanitizer
# into build-asan/ and runs its tests (unit and lit) there.
#   scripts/sanitize.sh           everything (the compiler too: about an hour
#                                 of building on 2 cores)
#   scripts/sanitize.sh --fast    the MLIR-free layers (config, weights,
#                                 bundle, runtime) and their unit tests:
#                                 a few minutes
# Leaks are not checked (MLIR's and LLVM's global registries are never
# freed); every other report fails the run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-asan"
compiler=ON
if [ "${1:-}" = --fast ]; then
  compiler=OFF
  build="$root/build-asan-fast"
fi
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
if [ ! -f "$build/build.ninja" ]; then
  cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DXLSTM_ENABLE_COMPILER=$compiler -DLLVM_USE_LINKER=lld \
    "-DCMAKE_CXX_FLAGS=$flags" "-DCMAKE_C_FLAGS=$flags" \
    "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined" >/dev/null
fi
ninja -C "$build"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The install test is left out: it builds downstream programs without the
# sanitizer flags against the sanitized static libraries (it checks the
# packaging, which the normal build's test run covers).
(cd "$build" && ctest --output-on-failure -j "$(nproc)" -E '^(python|install)/')
# Python loads the sanitized libxlstm_runtime.so into an uninstrumented
# interpreter: the sanitizer runtimes have to come first.
preload="$(c++ -print-file-name=libasan.so) $(c++ -print-file-name=libubsan.so)"
(cd "$build" && LD_PRELOAD="$preload" ctest --output-on-failure -R '^python/')
