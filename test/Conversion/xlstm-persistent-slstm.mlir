// RUN: xlstm-opt %s --split-input-file --xlstm-persistent-slstm=tensor-cores=0 | FileCheck %s
// RUN: xlstm-opt %s --split-input-file --xlstm-persistent-slstm="tensor-cores=0 register-head-dim=16 shared-weight-bytes=0 register-rows=0" | FileCheck %s --check-prefix=GLOBAL
// RUN: xlstm-opt %s --split-input-file --xlstm-persistent-slstm="tensor-cores=0 register-head-dim=16 shared-weight-bytes=4096 register-rows=0" | FileCheck %s --check-prefix=SHARED
// RUN: xlstm-opt %s --split-input-file --xlstm-persistent-slstm="tensor-cores=0 register-head-dim=16 shared-weight-bytes=4096 register-rows=8" | FileCheck %s --check-prefix=REGROWS
// RUN: xlstm-opt %s --split-input-file --xlstm-persistent-slstm="tensor-cores=0 register-head-dim=16 shared-weight-bytes=4096 register-rows=8 pack-register-rows=1" | FileCheck %s --check-prefix=PACKED
// RUN: not xlstm-opt %s --split-input-file --xlstm-persistent-slstm="register-rows=-2" 2>&1 | FileCheck %s --check-prefix=BADROWS
// RUN: not xlstm-opt %s --split-input-file --xlstm-persistent-slstm="shared-weight-bytes=-1" 2>&1 | FileCheck %s --check-prefix=BADROWS
// RUN: xlstm-opt %s --split-input-file --xlstm-persistent-slstm="tensor-cores=0 register-head-dim=16" | FileCheck %s --check-prefix=ALLSHARED
// RUN: xlstm-opt %s --split-input-file --xlstm-persistent-slstm="tensor-cores=0 register-head-dim=16 units-per-thread=4 dot-unroll=16" | FileCheck %s --check-prefix=FOUR
// RUN: xlstm-opt %s --split-input-file --xlstm-persistent-slstm="tensor-cores=0 register-head-dim=16 prefetch-gates=0 shared-weight-bytes=0 register-rows=0" | FileCheck %s --check-prefix=LATE
// RUN: not xlstm-opt %s --split-input-file --xlstm-persistent-slstm="units-per-thread=3" 2>&1 | FileCheck %s --check-prefix=BADUNITS
// RUN: not xlstm-opt %s --split-input-file --xlstm-persistent-slstm="dot-unroll=0" 2>&1 | FileCheck %s --check-prefix=BADUNROLL
// RUN: xlstm-opt %s --split-input-file --xlstm-persistent-slstm="tensor-cores=0 register-head-dim=16 units-per-thread=4 dot-unroll=16" --gpu-kernel-outlining | xlstm-opt --split-input-file --xlstm-gpu-to-ptx="format=isa chip=sm_80" 2>&1 | FileCheck %s --check-prefix=ISA --implicit-check-not=error
// RUN: %if ptxas %{ xlstm-opt %s --split-input-file --xlstm-persistent-slstm --gpu-kernel-outlining | xlstm-opt --split-input-file --xlstm-gpu-to-ptx="format=bin chip=sm_80 toolkit=%cuda_toolkit" | FileCheck %s --check-prefix=BIN %}
// RUN: xlstm-opt %s --split-input-file --xlstm-persistent-slstm | FileCheck %s --check-prefix=MMA
// RUN: xlstm-opt %s --split-input-file --xlstm-persistent-slstm --gpu-kernel-outlining | xlstm-opt --split-input-file --xlstm-gpu-to-ptx="format=isa chip=sm_80" 2>&1 | FileCheck %s --check-prefix=MMA-ISA --implicit-check-not=error

// The whole recurrence is one launch: a block per (head, batch row) of
// 4 * DH threads, h and the raw gates in shared memory, a time loop with
// two barriers per step, y and the final states written from the cell
// threads (tid < DH). The recurrent column of each thread is loaded once,
// before the loop (DH = 32 <= register-head-dim).
// CHECK-LABEL: func @sequence
// CHECK-SAME:    (%[[I:[^:]+]]: tensor<?x?x64xf32>, %[[F:[^:]+]]: tensor<?x?x64xf32>, %[[Z:[^:]+]]: tensor<?x?x64xf32>, %[[O:[^:]+]]: tensor<?x?x64xf32>, %[[R:[^:]+]]: tensor<2x32x4x32xbf16>, %[[B:[^:]+]]: tensor<2x4x32xbf16>)
// CHECK-DAG:   %[[IB:.+]] = bufferization.to_buffer %[[I]] read_only : tensor<?x?x64xf32> to memref<?x?x64xf32>
// CHECK-DAG:   %[[RB:.+]] = bufferization.to_buffer %[[R]] read_only
// CHECK:       %[[BATCH:.+]] = memref.dim %[[IB]], %c0
// CHECK:       %[[SEQ:.+]] = memref.dim %[[IB]], %c1
// CHECK:       %[[Y:.+]] = memref.alloc(%[[BATCH]], %[[SEQ]]) : memref<?x?x64xbf16>
// CHECK:       gpu.launch blocks(%[[HD:[^,]+]], %[[ROW:[^,]+]], %{{[^)]+}}) in (%{{[^ ]+}} = %c2, %{{[^ ]+}} = %[[BATCH]], %{{[^ ]+}} = %c1)
// CHECK-SAME:    threads(%[[TID:[^,]+]], {{.*}} in (%{{[^ ]+}} = %c128,
// CHECK-SAME:    workgroup(%[[H:[^ ]+]] : memref<32xf32, #gpu.address_space<workgroup>>, %[[RAW:[^ ]+]] : memref<128xf32, #gpu.address_space<workgroup>>)
// CHECK-COUNT-32: memref.load %[[RB]]
// CHECK:         gpu.barrier
// CHECK:         %[[LOOP:.+]]:4 = scf.for %[[T:.+]] = %{{.+}} to %[[SEQ]] step %{{.+}} iter_args
// CHECK:           scf.index_switch
// CHECK-COUNT-32:  memref.load %[[H]]
// CHECK:           memref.store %{{.+}}, %[[RAW]][%[[TID]]]
// CHECK-NEXT:      gpu.barrier
// CHECK:           scf.if %{{.+}} -> (f32, f32, f32, f32)
// CHECK:             math.log1p
// CHECK:             memref.store %{{.+}}, %[[H]]
// CHECK:             arith.truncf %{{.+}} : f32 to bf16
// CHECK:             memref.store %{{.+}}, %[[Y]][%[[ROW]], %[[T]], %{{.+}}] : memref<?x?x64xbf16>
// CHECK:           gpu.barrier
// CHECK:         scf.if
// CHECK-COUNT-4:   memref.store %[[LOOP]]#
// CHECK:       bufferization.to_tensor %[[Y]] restrict writable
// CHECK-NOT:   xlstm.slstm
// With R read from memory (DH = 32 > register-head-dim): a thread per gate
// pre-activation, the step's gate input loaded before the dot product
// (its latency hides behind it), 8 rows of R loaded together per
// iteration of the dot product.
// GLOBAL-LABEL: func @sequence
// GLOBAL:       gpu.launch
// GLOBAL-SAME:    threads(%[[TID:[^,]+]], {{.*}} in (%{{[^ ]+}} = %c128,
// GLOBAL-NOT:     memref.load {{.*}} : memref<2x32x4x32xbf16>
// GLOBAL:         scf.for
// GLOBAL:           scf.index_switch {{.*}} -> f32
// GLOBAL:             memref.load {{.*}} : memref<?x?x64xf32>
// GLOBAL:           scf.for {{.*}} = %c0{{.*}} to %c32{{.*}} step %c8{{.*}} iter_args({{.*}}) -> (f32)
// GLOBAL-COUNT-8:     vector.load {{.*}} : memref<2x32x4x32xbf16>, vector<1xbf16>
// GLOBAL:           memref.store {{.*}}, %{{.+}}[%[[TID]]]
// GLOBAL-NEXT:      gpu.barrier
// shared-weight-bytes=4096: the last 16 of the 32 rows of R (8 words of
// two bf16 rows, 128 columns: 4096 bytes of dynamic shared memory) are
// copied into shared memory once; each step sums rows 0-15 from global
// memory, then rows 16-31 from the copy, in row order.
// SHARED-LABEL: func @sequence
// SHARED:       %[[BYTES:.+]] = arith.constant 4096 : i32
// SHARED:       gpu.launch {{.*}} threads(%[[TID:[^,]+]], {{.*}} dynamic_shared_memory_size %[[BYTES]]
// SHARED:         %[[DYN:.+]] = gpu.dynamic_shared_memory
// SHARED:         %[[COPY:.+]] = memref.view %[[DYN]]{{.*}} to memref<8x128xi32, #gpu.address_space<workgroup>>
// SHARED:         scf.for %{{.+}} = %[[TID]] to %c1024
// SHARED-COUNT-2:   memref.load {{.*}} : memref<2x32x4x32xbf16>
// SHARED:           vector.from_elements {{.*}} : vector<2xbf16>
// SHARED:           vector.bitcast {{.*}} : vector<2xbf16> to vector<1xi32>
// SHARED:           memref.store {{.*}}, %[[COPY]]
// SHARED:         gpu.barrier
// SHARED:         scf.for
// SHARED:           scf.for {{.*}} = %c0{{.*}} to %c16{{.*}} step %c8{{.*}} iter_args
// SHARED-COUNT-8:     vector.load {{.*}} : memref<2x32x4x32xbf16>, vector<1xbf16>
// SHARED:           scf.for {{.*}} = %c0{{.*}} to %c8{{.*}} step %c4{{.*}} iter_args
// SHARED:             memref.load %[[COPY]]{{.*}}, %[[TID]]]
// SHARED:             vector.bitcast {{.*}} : vector<1xi32> to vector<2xbf16>
// register-rows=8 as well: rows 0-7 are loaded into registers once, before
// the time loop; each step sums those, rows 8-15 from global memory, then
// the shared copy's 16-31.
// REGROWS-LABEL: func @sequence
// REGROWS:       gpu.launch
// REGROWS-COUNT-8: memref.load {{.*}} : memref<2x32x4x32xbf16>
// REGROWS:         scf.for
// REGROWS-COUNT-8:   memref.load %{{.+}}[%{{.+}}] : memref<32xf32, #gpu.address_space<workgroup>>
// REGROWS:           scf.for {{.*}} = %c8{{.*}} to %c16{{.*}} step %c8{{.*}} iter_args
// REGROWS:           scf.for {{.*}} = %c0{{.*}} to %c8{{.*}} step %c4{{.*}} iter_args
// pack-register-rows: the same 8 rows held two bf16 a 32-bit register
// (packed once, before the time loop); each step unpacks them in asm that
// LLVM keeps in the loop (hoisted, the float32 rows would need twice the
// registers).
// PACKED-LABEL: func @sequence
// PACKED:       gpu.launch
// PACKED-COUNT-4: vector.bitcast {{.*}} : vector<2xbf16> to vector<1xi32>
// PACKED:         scf.for
// PACKED-COUNT-8:   memref.load %{{.+}}[%{{.+}}] : memref<32xf32, #gpu.address_space<workgroup>>
// PACKED:           llvm.inline_asm has_side_effects "shl.b32 $0, $1, 16;", "=r,r"
// PACKED:           llvm.inline_asm has_side_effects "and.b32 $0, $1, 0xffff0000;", "=r,r"
// PACKED:           scf.for {{.*}} = %c8{{.*}} to %c16{{.*}} step %c8{{.*}} iter_args
// PACKED:       } {xlstm.kernel = {{.*}}the first 8 rows in registers (two a register)
// BADROWS: register-rows must be -1 (auto) or more
// By default the copy takes as many rows as 163 KiB holds: all 32 here
// (none left for registers).
// ALLSHARED-LABEL: func @sequence
// ALLSHARED:       arith.constant 8192 : i32
// ALLSHARED:       memref<16x128xi32, #gpu.address_space<workgroup>>
// prefetch-gates=0: the gate input is loaded after the dot product.
// LATE-LABEL: func @sequence
// LATE:           scf.for {{.*}} step %c8{{.*}} iter_args({{.*}}) -> (f32)
// LATE:           scf.index_switch {{.*}} -> f32
// LATE-NEXT:      case 0
// LATE-NEXT:        memref.load {{.*}} : memref<?x?x64xf32>
// units-per-thread=4: a thread owns 4 consecutive units of one gate (32
// threads); the bias, the step's gate inputs and each row of R come as
// vectors of 4 (16 rows per iteration with dot-unroll=16), each h value
// is read once for the 4 units (NVPTX makes 16-byte shared loads and
// stores of the consecutive scalar ones).
// FOUR-LABEL: func @sequence
// FOUR:       gpu.launch
// FOUR-SAME:    threads(%[[TID:[^,]+]], {{.*}} in (%{{[^ ]+}} = %c32,
// FOUR-SAME:    workgroup(%[[H:[^ ]+]] : memref<32xf32, #gpu.address_space<workgroup>>, %[[RAW:[^ ]+]] : memref<128xf32, #gpu.address_space<workgroup>>)
// FOUR:         %[[FIRST:.+]] = arith.muli %[[TID]], %c4
// FOUR:         vector.load {{.*}} : memref<2x4x32xbf16>, vector<4xbf16>
// FOUR-NOT:     memref.load {{.*}} : memref<2x32x4x32xbf16>
// FOUR:         scf.for
// FOUR:           scf.index_switch {{.*}} -> f32, f32, f32, f32
// FOUR:             vector.load {{.*}} : memref<?x?x64xf32>, vector<4xf32>
// FOUR:           scf.for {{.*}} = %c0{{.*}} to %c32{{.*}} step %c16{{.*}} iter_args({{.*}}) -> (f32, f32, f32, f32)
// FOUR-COUNT-16:    vector.load {{.*}} : memref<2x32x4x32xbf16>, vector<4xbf16>
// FOUR-COUNT-16:    memref.load %[[H]]
// FOUR:           memref.store {{.*}}, %[[RAW]][%[[FIRST]]]
// FOUR-COUNT-3:   memref.store {{.*}}, %[[RAW]]
// FOUR-NEXT:      gpu.barrier
// In PTX: a row of 4 bf16 weights is one 8-byte load, h is read 16 bytes
// a load and the raw gates stored 16 bytes at a time.
// ISA-LABEL: gpu.binary @sequence_kernel
// ISA-SAME:    ld.global.v4.b16
// ISA-SAME:    ld.shared.v4.b32
// ISA-SAME:    st.shared.v4.b32
// BADUNITS: units-per-thread must be 1, 2 or 4, got 3
// BADUNROLL: dot-unroll must be in [1, 32], got 0
// On tensor cores (the default for 16-bit R): a block per (head, 4 batch
// rows) of 8 warps, each holding its 2 A fragments of R (one m16 tile, two
// k16 tiles; two 16-bit weights a word, 16 loads) in registers. Per step
// one mma per fragment; the lanes holding a row's hi and lo sums add them
// (xor 2), the raw gates go through shared memory to the cell threads.
// MMA-LABEL: func @sequence
// MMA:       %[[RB:.+]] = bufferization.to_buffer %{{.+}} read_only : tensor<2x32x4x32xbf16>
// MMA:       %[[BLOCKS:.+]] = arith.ceildivui %{{.+}}, %c4
// MMA:       gpu.launch blocks({{.*}}) in (%{{[^ ]+}} = %c2, %{{[^ ]+}} = %[[BLOCKS]], %{{[^ ]+}} = %c1)
// MMA-SAME:    threads({{.*}}) in (%{{[^ ]+}} = %c256, %{{[^ ]+}} = %c1, %{{[^ ]+}} = %c1) dynamic_shared_memory_size %c2688_i32
// MMA:         memref.view {{.*}} to memref<8x40xbf16, #gpu.address_space<workgroup>>
// MMA:         memref.view {{.*}} to memref<4x128xf32, #gpu.address_space<workgroup>>
// MMA:         gpu.barrier
// MMA:         gpu.barrier
// MMA-COUNT-16: memref.load %[[RB]]
// MMA:         scf.for
// MMA-COUNT-2:   nvvm.mma.sync {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>
// MMA-COUNT-4:   gpu.shuffle  xor %{{[^,]+}}, %c2_i32
// MMA:           gpu.barrier
// MMA:           math.log1p
// MMA:           gpu.barrier
// MMA-NOT:   xlstm.slstm
// MMA-ISA-LABEL: gpu.binary @sequence_kernel
// MMA-ISA-SAME:    mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// MMA-ISA-SAME:    shfl.sync.bfly.b32
// BIN: gpu.binary @sequence_kernel
func.func @sequence(%i: tensor<?x?x64xf32>, %f: tensor<?x?x64xf32>,
                    %z: tensor<?x?x64xf32>, %o: tensor<?x?x64xf32>,
                    %r: tensor<2x32x4x32xbf16>, %b: tensor<2x4x32xbf16>)
    -> (tensor<?x?x64xbf16>, tensor<?x64xf32>, tensor<?x64xf32>,
        tensor<?x64xf32>, tensor<?x64xf32>) {
  %y, %h, %c, %n, %m = xlstm.slstm %i, %f, %z, %o, %r, %b
      {function = #xlstm.function<slstm>, num_heads = 2 : i64}
      : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>,
         tensor<?x?x64xf32>, tensor<2x32x4x32xbf16>, tensor<2x4x32xbf16>)
      -> (tensor<?x?x64xbf16>, tensor<?x64xf32>, tensor<?x64xf32>,
          tensor<?x64xf32>, tensor<?x64xf32>)
  return %y, %h, %c, %n, %m : tensor<?x?x64xbf16>, tensor<?x64xf32>,
      tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>
}

// -----

// One decode step of the classic LSTM cell from given states: the same
// kernel with a single step; the new states are the results.
// CHECK-LABEL: func @lstm_step
// CHECK-SAME:    %[[H0:[^:]+]]: tensor<?x16xf32>, %[[C0:[^:]+]]: tensor<?x16xf32>)
// CHECK:       %[[HB:.+]] = bufferization.to_buffer %[[H0]] read_only
// CHECK:       gpu.launch {{.*}} threads({{.*}}) in (%{{[^ ]+}} = %c64,
// CHECK:         memref.load %[[HB]]
// CHECK:         scf.for %{{.+}} = %{{.+}} to %c1{{.*}} iter_args({{.*}}) -> (f32, f32)
// CHECK:           memref.load {{.*}} : memref<?x16xf32>
// CHECK:           scf.if %{{.+}} -> (f32, f32)
// CHECK-NOT:         math.log1p
// CHECK:             math.tanh
// CHECK-COUNT-2: bufferization.to_tensor
// CHECK-NOT:   xlstm.slstm_step
// BIN: gpu.binary @lstm_step_kernel
func.func @lstm_step(%i: tensor<?x16xf32>, %f: tensor<?x16xf32>,
                     %z: tensor<?x16xf32>, %o: tensor<?x16xf32>,
                     %r: tensor<1x16x4x16xf32>, %b: tensor<1x4x16xf32>,
                     %h0: tensor<?x16xf32>, %c0: tensor<?x16xf32>)
    -> (tensor<?x16xf32>, tensor<?x16xf32>) {
  %h, %c = xlstm.slstm_step %i, %f, %z, %o, %r, %b state(%h0, %c0)
      {function = #xlstm.function<lstm>, num_heads = 1 : i64}
      : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>,
         tensor<?x16xf32>, tensor<1x16x4x16xf32>, tensor<1x4x16xf32>,
         tensor<?x16xf32>, tensor<?x16xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>)
  return %h, %c : tensor<?x16xf32>, tensor<?x16xf32>
}

// -----

// One decode step with R read from memory (DH = 32 > register-head-dim=16):
// R is read once whatever the kernel does, so no shared-memory copy and no
// rows held in registers.
// ALLSHARED-LABEL: func @slstm_step_from_memory
// ALLSHARED:       gpu.launch
// ALLSHARED-NOT:   dynamic_shared_memory
// ALLSHARED:       scf.for {{.*}} to %c1
// ALLSHARED:         scf.for {{.*}} = %c0{{.*}} to %c32{{.*}} step %c8
// ALLSHARED-COUNT-8:   vector.load {{.*}} : memref<1x32x4x32xbf16>, vector<1xbf16>
// The single-step op keeps the scalar kernel with tensor cores on.
// MMA-LABEL: func @slstm_step_from_memory
// MMA-NOT:     nvvm.mma.sync
// MMA:         gpu.launch
// MMA-NOT:     nvvm.mma.sync
// MMA:       return
func.func @slstm_step_from_memory(%g: tensor<?x32xf32>, %r: tensor<1x32x4x32xbf16>,
                                  %b: tensor<1x4x32xbf16>, %h0: tensor<?x32xf32>,
                                  %c0: tensor<?x32xf32>, %n0: tensor<?x32xf32>,
                                  %m0: tensor<?x32xf32>)
    -> (tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  %h, %c, %n, %m = xlstm.slstm_step %g, %g, %g, %g, %r, %b state(%h0, %c0, %n0, %m0)
      {function = #xlstm.function<slstm>, num_heads = 1 : i64}
      : (tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>,
         tensor<1x32x4x32xbf16>, tensor<1x4x32xbf16>, tensor<?x32xf32>,
         tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>)
      -> (tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>)
  return %h, %c, %n, %m : tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}

// -----

// A head wider than 256 units: 2048 gate pre-activations do not fit 1024
// threads of one, so 2 consecutive ones a thread (two raw stores per
// step), the recurrent weights read in the loop; 4 with
// units-per-thread=4.
// CHECK-LABEL: func @wide
// MMA-LABEL: func @wide
// MMA-NOT: nvvm.mma.sync
// MMA: scf.for
// CHECK:       gpu.launch
// CHECK-SAME:    threads({{.*}}) in (%{{[^ ]+}} = %c1024,
// CHECK:         scf.for
// CHECK-COUNT-2:   memref.store %{{.+}}, %{{.+}} : memref<2048xf32, #gpu.address_space<workgroup>>
// CHECK-NEXT:      gpu.barrier
// FOUR-LABEL: func @wide
// FOUR:       threads({{.*}}) in (%{{[^ ]+}} = %c512,
func.func @wide(%g: tensor<?x?x512xf32>, %r: tensor<1x512x4x512xf32>,
                %b: tensor<1x4x512xf32>) -> tensor<?x?x512xf32> {
  %y = xlstm.slstm %g, %g, %g, %g, %r, %b
      {function = #xlstm.function<slstm>, num_heads = 1 : i64}
      : (tensor<?x?x512xf32>, tensor<?x?x512xf32>, tensor<?x?x512xf32>,
         tensor<?x?x512xf32>, tensor<1x512x4x512xf32>, tensor<1x4x512xf32>)
      -> tensor<?x?x512xf32>
  return %y : tensor<?x?x512xf32>
}

// -----

// A head of 2048 units has more cells than a block has threads: left to
// the generic lowering.
// CHECK-LABEL: func @too_wide
// CHECK-NOT:   gpu.launch
// CHECK:       xlstm.slstm
func.func @too_wide(%g: tensor<?x?x2048xf32>, %r: tensor<1x2048x4x2048xf32>,
                    %b: tensor<1x4x2048xf32>) -> tensor<?x?x2048xf32> {
  %y = xlstm.slstm %g, %g, %g, %g, %r, %b
      {function = #xlstm.function<slstm>, num_heads = 1 : i64}
      : (tensor<?x?x2048xf32>, tensor<?x?x2048xf32>, tensor<?x?x2048xf32>,
         tensor<?x?x2048xf32>, tensor<1x2048x4x2048xf32>, tensor<1x4x2048xf32>)
      -> tensor<?x?x2048xf32>
  return %y : tensor<?x?x2048xf32>
}

// -----

// 4 x 258 pre-activations need 2 or more units a thread to fit 1024
// threads; 258 % 4 != 0, so 2 units, 516 threads.
// CHECK-LABEL: func @two_units
// CHECK:       gpu.launch {{.*}} threads({{.*}}) in (%{{[^ ]+}} = %c516,
// CHECK:         vector.load {{.*}} : memref<1x258x4x258xf32>, vector<2xf32>
func.func @two_units(%g: tensor<?x?x258xf32>, %r: tensor<1x258x4x258xf32>,
                     %b: tensor<1x4x258xf32>) -> tensor<?x?x258xf32> {
  %y = xlstm.slstm %g, %g, %g, %g, %r, %b
      {function = #xlstm.function<slstm>, num_heads = 1 : i64}
      : (tensor<?x?x258xf32>, tensor<?x?x258xf32>, tensor<?x?x258xf32>,
         tensor<?x?x258xf32>, tensor<1x258x4x258xf32>, tensor<1x4x258xf32>)
      -> tensor<?x?x258xf32>
  return %y : tensor<?x?x258xf32>
}

// -----

// 4 x 257 pre-activations: an odd head dimension over 256 has no whole
// number of units a thread that fits 1024 threads: left to the generic
// lowering.
// CHECK-LABEL: func @uneven
// CHECK-NOT:   gpu.launch
// CHECK:       xlstm.slstm
func.func @uneven(%g: tensor<?x?x257xf32>, %r: tensor<1x257x4x257xf32>,
                  %b: tensor<1x4x257xf32>) -> tensor<?x?x257xf32> {
  %y = xlstm.slstm %g, %g, %g, %g, %r, %b
      {function = #xlstm.function<slstm>, num_heads = 1 : i64}
      : (tensor<?x?x257xf32>, tensor<?x?x257xf32>, tensor<?x?x257xf32>,
         tensor<?x?x257xf32>, tensor<1x257x4x257xf32>, tensor<1x4x257xf32>)
      -> tensor<?x?x257xf32>
  return %y : tensor<?x?x257xf32>
}

// -----

// A result whose width the type leaves open cannot be sized from the
// gates: left to the generic lowering (it used to crash the pass).
// CHECK-LABEL: func @open_width
// CHECK-NOT:   gpu.launch
// CHECK:       xlstm.slstm
func.func @open_width(%g: tensor<?x?x64xf32>, %r: tensor<2x32x4x32xf32>,
                      %b: tensor<2x4x32xf32>) -> tensor<?x?x?xf32> {
  %y = xlstm.slstm %g, %g, %g, %g, %r, %b
      {function = #xlstm.function<slstm>, num_heads = 2 : i64}
      : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>,
         tensor<?x?x64xf32>, tensor<2x32x4x32xf32>, tensor<2x4x32xf32>)
      -> tensor<?x?x?xf32>
  return %y : tensor<?x?x?xf32>
}

// -----

// A head of 160 on tensor cores: 40 m16 tiles, 10 warps of 4 (320
// threads, 2 batch rows a block: the hi sums of a row in lane tig = 0, its
// lo sums in tig = 1). A thread has 168 registers (10 warps: 3 to each
// quarter of the register file), so 28 of a warp's 40 fragments stay in
// registers and 12 go to shared memory in fragment order (a lane's 4 words
// together: one 16-byte load each per step).
// MMA-LABEL: func @sequence_shared
// MMA:       %[[BLOCKS:.+]] = arith.ceildivui %{{.+}}, %c2
// MMA:       gpu.launch blocks({{.*}}) in (%{{[^ ]+}} = %c1{{[_0-9]*}}, %{{[^ ]+}} = %[[BLOCKS]], %{{[^ ]+}} = %c1)
// MMA-SAME:    threads({{.*}}) in (%{{[^ ]+}} = %c320, %{{[^ ]+}} = %c1, %{{[^ ]+}} = %c1) dynamic_shared_memory_size %c69248_i32
// MMA:         %[[FRAGMENTS:.+]] = memref.view {{.*}} to memref<3840x4xi32, #gpu.address_space<workgroup>>
// MMA:         memref.view {{.*}} to memref<2x640xf32, #gpu.address_space<workgroup>>
// MMA-COUNT-48: memref.store %{{.+}}, %[[FRAGMENTS]]
// MMA:         scf.for
// MMA-COUNT-40:  nvvm.mma.sync
// MMA-COUNT-4:   gpu.shuffle  xor %{{[^,]+}}, %c1_i32
// MMA:           gpu.barrier
// MMA:           math.log1p
// MMA-ISA-LABEL: gpu.binary @sequence_shared_kernel
// MMA-ISA-SAME:    ld.shared.v4.b32
func.func @sequence_shared(%g: tensor<?x?x160xf32>, %r: tensor<1x160x4x160xbf16>,
                           %b: tensor<1x4x160xbf16>) -> tensor<?x?x160xf32> {
  %y = xlstm.slstm %g, %g, %g, %g, %r, %b
      {function = #xlstm.function<slstm>, num_heads = 1 : i64}
      : (tensor<?x?x160xf32>, tensor<?x?x160xf32>, tensor<?x?x160xf32>,
         tensor<?x?x160xf32>, tensor<1x160x4x160xbf16>, tensor<1x4x160xbf16>)
      -> tensor<?x?x160xf32>
  return %y : tensor<?x?x160xf32>
}

// -----

// f16 weights: the same kernel on f16 mma operands (vector<2xf16>
// registers, stored in shared memory as 32-bit words where they go there).
// MMA-LABEL: func @sequence_f16
// MMA:         scf.for
// MMA-COUNT-2:   nvvm.mma.sync A[{{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (vector<2xf16>, vector<2xf16>, f32)
// MMA-ISA-LABEL: gpu.binary @sequence_f16_kernel
// MMA-ISA-SAME:    mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
func.func @sequence_f16(%g: tensor<?x?x32xf32>, %r: tensor<1x32x4x32xf16>,
                        %b: tensor<1x4x32xf16>) -> tensor<?x?x32xf32> {
  %y = xlstm.slstm %g, %g, %g, %g, %r, %b
      {function = #xlstm.function<slstm>, num_heads = 1 : i64}
      : (tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>,
         tensor<?x?x32xf32>, tensor<1x32x4x32xf16>, tensor<1x4x32xf16>)
      -> tensor<?x?x32xf32>
  return %y : tensor<?x?x32xf32>
}

// -----

// A bf16 head of 256: its fragments (512 KiB of R) fit neither the
// registers nor the 163 KiB of shared memory, so the scalar kernel.
// MMA-LABEL: func @too_wide_for_tensor_cores
// MMA-NOT:     nvvm.mma.sync
// MMA:         scf.for
// MMA-NOT:     nvvm.mma.sync
// MMA:       return
func.func @too_wide_for_tensor_cores(%g: tensor<?x?x256xf32>, %r: tensor<1x256x4x256xbf16>,
                                     %b: tensor<1x4x256xbf16>) -> tensor<?x?x256xf32> {
  %y = xlstm.slstm %g, %g, %g, %g, %r, %b
      {function = #xlstm.function<slstm>, num_heads = 1 : i64}
      : (tensor<?x?x256xf32>, tensor<?x?x256xf32>, tensor<?x?x256xf32>,
         tensor<?x?x256xf32>, tensor<1x256x4x256xbf16>, tensor<1x4x256xbf16>)
      -> tensor<?x?x256xf32>
  return %y : tensor<?x?x256xf32>
}
