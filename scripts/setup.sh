#!/usr/bin/env bash
# Installs what building and testing xlstm-mlir needs on Debian 12, and
# nothing else. Idempotent, non-interactive, silent when nothing is missing.
set -euo pipefail

packages=(
  cmake ninja-build g++ ccache lld     # build tools
  llvm-22-dev llvm-22-tools            # LLVM 22 (libLLVM, FileCheck, lit)
  libmlir-22-dev mlir-22-tools         # MLIR 22 libraries, headers, tablegen
  libgtest-dev                         # unit tests
  libutf8proc-dev                      # tokenizer: NFC, Unicode categories
  python3                              # lit
  python3-numpy                        # the Python bindings' tests (python/)
  clang libclang-rt-14-dev             # libFuzzer + sanitizers (scripts/fuzz.sh)
)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
      grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
((${#missing[@]} == 0)) && exit 0

echo "setup: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
  --no-install-recommends "${missing[@]}" >/dev/null
