// RUN: xlstm-opt %s --xlstm-grid-dependency-wait | FileCheck %s
// Idempotent: a kernel that already waits first gets no second wait.
// RUN: xlstm-opt %s --xlstm-grid-dependency-wait --xlstm-grid-dependency-wait | FileCheck %s
// RUN: xlstm-opt %s --xlstm-grid-dependency-wait=early-trigger=0 | FileCheck %s --check-prefix=LATE
// RUN: xlstm-opt %s --xlstm-grid-dependency-wait=programs=step | FileCheck %s --check-prefix=STEP
// RUN: xlstm-opt %s --xlstm-grid-dependency-wait=programs=stpe -o /dev/null 2>&1 | FileCheck %s --check-prefix=TYPO
// TYPO: warning: xlstm-grid-dependency-wait: programs names 'stpe', which is no function here
// xlstmc checks the PTX target before compiling anything.
// RUN: not xlstmc %configs/readme_stack.yaml --dtype bf16 --pass-pipeline='builtin.module(xlstm-to-gpu{tf32=1 grid-dependency-wait=1})' -o %t.xlstmb 2>&1 | FileCheck %s --check-prefix=CHIP
// CHIP: error: grid-dependency-wait: the kernels' griddepcontrol needs PTX for sm_90 or later; add --chip=sm_90 (got --chip=sm_80)
// RUN: not xlstmc %configs/readme_stack.yaml --dtype bf16 --chip=sm_90 --cubins=sm_80 -o %t.xlstmb 2>&1 | FileCheck %s --check-prefix=CUBINS
// The bundle's kernel table says which kernels' launches wait: every one
// with every host function listed; by default (and with xlstmc's pipeline
// for sm_90) the decode program's only, whose kernels get entries of their
// own beside the plain launches of the same functions.
// RUN: xlstmc %configs/readme_stack.yaml --dtype bf16 --chip=sm_90 --cubins=none --quiet --pass-pipeline='builtin.module(xlstm-to-gpu{tf32=1 grid-dependency-wait=1 grid-dependency-programs=forward,prefill,step,convert_f32,convert_f16})' -o %t.xlstmb
// RUN: xlstm-bundle %t.xlstmb | FileCheck %s --check-prefix=TABLE
// TABLE: kernels: [[N:[0-9]+]] ([[N]] with an image, [[N]] waiting on the previous grid)
// RUN: xlstmc %configs/readme_stack.yaml --dtype bf16 --chip=sm_90 --cubins=none --quiet -o %t.sm90.xlstmb
// RUN: xlstm-bundle %t.sm90.xlstmb | FileCheck %s --check-prefix=SM90
// SM90: kernels: [[N:[0-9]+]] ([[N]] with an image, {{[1-9][0-9]*}} waiting on the previous grid)
// The first kernel of the forward program (plain), and the step's entry
// for the same function (waiting).
// RUN: xlstm-bundle %t.sm90.xlstmb --manifest | tr -d ' \n' | FileCheck %s --check-prefix=TWICE
// TWICE: "kernels":[{"module":"[[M:[a-z_0-9]+]]","name":"[[K:[a-z_0-9]+]]","origin":"{{[^"]*}}","section":"[[S:[^"]+]]"}
// TWICE-SAME: {"module":"[[M]]","name":"[[K]]","origin":"{{[^"]*}}","section":"[[S]]","waits_on_previous_grid":true}
// With sm_90 xlstmc's own pipeline also has the fused mLSTM decode step
// load its entering states before its wait (the 7B's two blocks); not for
// sm_80.
// RUN: xlstmc %S/../xlstmc/Inputs/xlstm_7b_2blocks.yaml --dtype bf16 --chip=sm_90 --lowering-report | FileCheck %s --check-prefix=EARLY
// RUN: xlstmc %S/../xlstmc/Inputs/xlstm_7b_2blocks.yaml --dtype bf16 --lowering-report | FileCheck %s --check-prefix=NOTEARLY
// EARLY-COUNT-2: entering states loaded before the grid wait
// NOTEARLY-NOT:  before the grid wait
// RUN: xlstmc %configs/readme_stack.yaml --dtype bf16 --cubins=none --quiet -o %t.sm80.xlstmb
// RUN: xlstm-bundle %t.sm80.xlstmb | FileCheck %s --check-prefix=SM80
// SM80: kernels: [[N:[0-9]+]] ([[N]] with an image)
// CUBINS: error: --cubins: ptxas cannot assemble --chip=sm_90's PTX for sm_80 (only for that architecture or a newer one; for an 'a' target, that one alone)

// Every kernel waits on the grid before it, then lets the next one launch;
// every launch of it is marked for the runtime (programmatic stream
// serialization). Device functions are left alone.

// CHECK-LABEL: func.func @host
// CHECK:         gpu.launch_func @kernels::@scale {{.*}} {xlstm.waits_on_previous_grid}
// CHECK:         gpu.launch_func @kernels::@scale {{.*}} {xlstm.waits_on_previous_grid}
// CHECK:         gpu.launch_func @other::@copy {{.*}} {xlstm.waits_on_previous_grid}
// CHECK-LABEL: gpu.module @kernels
// CHECK:         gpu.func @scale(%{{.+}}: memref<?xf32>) kernel
// CHECK-NEXT:      nvvm.griddepcontrol wait
// CHECK-NEXT:      nvvm.griddepcontrol launch_dependents
// CHECK-NEXT:      gpu.block_id
// CHECK-NOT:       nvvm.griddepcontrol
// CHECK:         gpu.func @helper()
// CHECK-NOT:       nvvm.griddepcontrol
// CHECK:           gpu.return
// CHECK-LABEL: gpu.module @other
// CHECK:         gpu.func @copy
// CHECK-NEXT:      nvvm.griddepcontrol wait
// CHECK-NEXT:      nvvm.griddepcontrol launch_dependents
// CHECK-NOT:       nvvm.griddepcontrol
// A kernel whose builder placed its wait after loads of data no earlier
// kernel writes keeps it; the trigger follows it.
// CHECK:         gpu.func @early_loads
// CHECK-NEXT:      arith.constant
// CHECK-NEXT:      memref.load
// CHECK-NEXT:      nvvm.griddepcontrol wait
// CHECK-NEXT:      nvvm.griddepcontrol launch_dependents
// CHECK-NOT:       nvvm.griddepcontrol
// With early-trigger=0 the kernels only wait; the next grid launches as
// their blocks exit.
// LATE:          gpu.func @scale
// LATE-NEXT:       nvvm.griddepcontrol wait
// LATE-NEXT:       gpu.block_id
// LATE-NOT:        nvvm.griddepcontrol launch_dependents

// With programs=step only @step's launches are marked and only the kernels
// they launch wait (@scale, launched from both functions, waits in both;
// @host launches it plainly).
// STEP-LABEL: func.func @host
// STEP-NOT:     xlstm.waits_on_previous_grid
// STEP-LABEL: func.func @step
// STEP:         gpu.launch_func @kernels::@scale {{.*}} {xlstm.waits_on_previous_grid}
// A kernel the pass cannot give a wait (already serialized) keeps a plain
// launch: marked, it would overlap the grid before it unguarded.
// STEP:         gpu.launch_func @serialized::@done
// STEP-NOT:     xlstm.waits_on_previous_grid
// STEP:         return
// STEP-LABEL: gpu.module @kernels
// STEP:         gpu.func @scale
// STEP-NEXT:      nvvm.griddepcontrol wait
// STEP-NEXT:      nvvm.griddepcontrol launch_dependents
// STEP-LABEL: gpu.module @other
// STEP:         gpu.func @copy
// STEP-NOT:       nvvm.griddepcontrol
// STEP:         gpu.func @early_loads
// STEP:           nvvm.griddepcontrol wait
// STEP-NOT:       nvvm.griddepcontrol

module attributes {gpu.container_module} {
  func.func @host(%a: memref<?xf32>, %n: index) {
    %c1 = arith.constant 1 : index
    %c128 = arith.constant 128 : index
    gpu.launch_func @kernels::@scale blocks in (%n, %c1, %c1) threads in (%c128, %c1, %c1) args(%a : memref<?xf32>)
    gpu.launch_func @kernels::@scale blocks in (%n, %c1, %c1) threads in (%c128, %c1, %c1) args(%a : memref<?xf32>)
    gpu.launch_func @other::@copy blocks in (%n, %c1, %c1) threads in (%c128, %c1, %c1) args(%a : memref<?xf32>)
    gpu.launch_func @other::@early_loads blocks in (%n, %c1, %c1) threads in (%c128, %c1, %c1) args(%a : memref<?xf32>)
    return
  }
  func.func @step(%a: memref<?xf32>, %n: index) {
    %c1 = arith.constant 1 : index
    %c128 = arith.constant 128 : index
    gpu.launch_func @kernels::@scale blocks in (%n, %c1, %c1) threads in (%c128, %c1, %c1) args(%a : memref<?xf32>)
    gpu.launch_func @serialized::@done blocks in (%n, %c1, %c1) threads in (%c128, %c1, %c1) args(%a : memref<?xf32>)
    return
  }
  gpu.binary @serialized [#gpu.object<#nvvm.target, "">]
  gpu.module @kernels {
    gpu.func @scale(%a: memref<?xf32>) kernel {
      %b = gpu.block_id x
      %v = memref.load %a[%b] : memref<?xf32>
      %w = arith.addf %v, %v : f32
      memref.store %w, %a[%b] : memref<?xf32>
      gpu.return
    }
    gpu.func @helper() {
      gpu.return
    }
  }
  gpu.module @other {
    gpu.func @copy(%a: memref<?xf32>) kernel {
      %b = gpu.block_id x
      %v = memref.load %a[%b] : memref<?xf32>
      memref.store %v, %a[%b] : memref<?xf32>
      gpu.return
    }
    gpu.func @early_loads(%a: memref<?xf32>) kernel {
      %c0 = arith.constant 0 : index
      %v = memref.load %a[%c0] : memref<?xf32>
      nvvm.griddepcontrol wait
      memref.store %v, %a[%c0] : memref<?xf32>
      gpu.return
    }
  }
}
