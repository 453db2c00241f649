# The end-to-end GPU suite: compiled bundles run with xlstm-run --device=cuda
# and are compared with upstream's golden outputs. It runs where the GPU is,
# which need not have LLVM: no FileCheck, no lit.llvm; the verdicts are the
# exit codes of xlstm-compare. scripts/gpu-check.sh prepares the bundles and
# tools (gpu-out/) and runs it:
#   XLSTM_E2E_ROOT=gpu-out python3 gpu-out/lit/lit.py -sv gpu-out/e2e
import os
import subprocess

import lit.formats

config.name = "xlstm-e2e"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".test"]
config.test_source_root = os.path.dirname(__file__)
config.excludes = ["lit.cfg.py"]

root = os.environ.get("XLSTM_E2E_ROOT", "")
bin_dir = root
config.substitutions.append(("%bundles", os.path.join(root, "bundles")))
config.substitutions.append(("%golden", os.path.join(root, "golden")))
for tool in ["xlstm-run", "xlstm-compare", "xlstm-generate"]:
    config.substitutions.append((tool, os.path.join(bin_dir, tool)))

# cuda-gpu: the runtime sees a usable device.
gpu_info = os.path.join(bin_dir, "xlstm-gpu-info")
if os.path.exists(gpu_info) and subprocess.run(
        [gpu_info], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL).returncode == 0:
    config.available_features.add("cuda-gpu")
