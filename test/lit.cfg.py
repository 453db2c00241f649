# lit configuration of the xlstm test suite (the only Python in the build).
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "xlstm"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.xlstm_obj_root, "test")
# e2e/ is a separate suite (its own lit.cfg.py) for GPU machines.
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py",
                   "e2e"]
config.environment["FILECHECK_OPTS"] = "-enable-var-scope"

llvm_config.use_default_substitutions()
# A leading `not` and FileCheck come from the LLVM tools directory.
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.add_tool_substitutions(
    ["xlstm-opt", "xlstmc", "xlstm-run", "xlstm-compare", "xlstm-bundle",
     "xlstm-tokenize", "xlstm-generate"],
    [config.xlstm_tools_dir, config.llvm_tools_dir])

configs_dir = os.path.join(config.xlstm_src_root, "python-free-configs")
golden_dir = os.path.join(config.xlstm_shared_dir, "golden")
config.substitutions.append(("%configs", configs_dir))
config.substitutions.append(("%golden", golden_dir))
if os.path.isdir(golden_dir):
    config.available_features.add("golden")
# (Not "%tokenizers": %t is a prefix of it.)
neox_dir = os.path.join(config.xlstm_shared_dir, "tokenizers",
                        "gpt-neox-20b")
config.substitutions.append(("%neox", neox_dir))
if os.path.isdir(neox_dir):
    config.available_features.add("neox-tokenizer")
if config.ptxas_path:
    config.available_features.add("ptxas")
    # The toolkit root (…/bin/ptxas) for gpu-module-to-binary's toolkit=.
    config.substitutions.append(
        ("%cuda_toolkit", os.path.dirname(os.path.dirname(config.ptxas_path))))
