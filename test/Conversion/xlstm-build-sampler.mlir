// RUN: xlstm-opt %s --split-input-file --xlstm-build-sampler | FileCheck %s
// RUN: xlstm-opt %s --split-input-file --xlstm-build-sampler=threads=256 | FileCheck %s --check-prefix=T256
// RUN: not xlstm-opt %s --split-input-file --xlstm-build-sampler=threads=48 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: xlstm-opt %s --split-input-file --xlstm-build-sampler=tokens-in-flight=1 | FileCheck %s --check-prefix=ONE
// RUN: not xlstm-opt %s --split-input-file --xlstm-build-sampler=tokens-in-flight=0 2>&1 | FileCheck %s --check-prefix=BADTIF

// A language model's @step returns logits: @sample is added, one block of
// `threads` per row, the vocabulary static.
// CHECK-LABEL: func.func @sample
// CHECK-SAME: (%[[L:[^:]+]]: memref<?x?x100xf32> {xlstm.buffer = "logits"}, %[[SEEN:[^:]+]]: memref<?x4xi32> {xlstm.buffer = "seen"}, %{{.+}}: memref<4xf32> {xlstm.buffer = "settings"}, %{{.+}}: memref<?x2xi64> {xlstm.buffer = "rng"}, %{{.+}}: memref<?x1xi64> {xlstm.buffer = "tokens"})
// CHECK:      %[[ROWS:.+]] = memref.dim %[[L]], %c0
// CHECK:      gpu.launch blocks(%{{.+}}, %{{.+}}, %{{.+}}) in (%{{.+}} = %[[ROWS]], %{{.+}} = %c1{{.*}}) threads(%{{.+}}, %{{.+}}, %{{.+}}) in (%{{.+}} = %c512
// Per-warp histograms (16 warps x 256 bytes' bins) in shared memory.
// CHECK-SAME: memref<16x256xi64, #gpu.address_space<workgroup>>
// CHECK:      %[[LANE:.+]] = arith.remui %{{.+}}, %c32
// A repetition penalty of 1 takes a copy of the code whose scores are the
// logits alone (no seen bits). Each sweep of the vocabulary takes 8 tokens
// a thread an iteration (512 threads x 8), all 8 logits loaded before the
// first is combined; a token past the vocabulary reads the last one and
// counts for nothing. The loops start at the warp's first token, so that
// its lanes take the same iterations.
// CHECK:      %[[NOPENALTY:.+]] = arith.cmpf oeq
// CHECK:      scf.if %[[NOPENALTY]]
// CHECK:      %[[WARPFIRST:.+]] = arith.subi %{{.+}}, %[[LANE]]
// CHECK:      scf.for %{{.+}} = %[[WARPFIRST]] to %c100 step %c4096
// CHECK:      arith.select
// CHECK-NEXT: memref.load %[[L]]
// CHECK-COUNT-7: memref.load %[[L]]
// CHECK-NOT:  memref.load %[[SEEN]]
// CHECK:      scf.yield
// The argmax and max reduce with shuffles. Top-k's radix select counts: the
// lanes of a warp that take one byte add their number once (a ballot of
// the takers, match.any of the byte, the lowest such lane adds the
// popcount: llvm.intr.ctpop, which the GPU pipeline lowers); top-p's adds each token's weight. The Gumbel noise (two logs)
// is drawn for kept tokens only, after the iteration's 8 loads (a branch
// between them would hold each load back until the one before returns).
// CHECK:      gpu.shuffle  xor
// CHECK:      %[[TAKERS:.+]] = nvvm.vote.sync  ballot %c-1_i32
// CHECK-NEXT: scf.if
// CHECK-NEXT: %[[PEERS:.+]] = nvvm.match.sync  any %[[TAKERS]]
// CHECK:      arith.andi %[[PEERS]]
// CHECK:      llvm.intr.ctpop(%[[PEERS]])
// CHECK:      memref.atomic_rmw addi
// CHECK:      math.exp
// CHECK-NOT:  nvvm.vote.sync
// CHECK:      memref.atomic_rmw addi
// CHECK:      scf.for
// CHECK:      memref.load %[[L]]
// CHECK-NOT:  scf.if
// CHECK:      memref.load %[[L]]
// CHECK-NOT:  scf.if
// CHECK:      memref.load %[[L]]
// CHECK-NOT:  scf.if
// CHECK:      memref.load %[[L]]
// CHECK-NOT:  scf.if
// CHECK:      memref.load %[[L]]
// CHECK-NOT:  scf.if
// CHECK:      memref.load %[[L]]
// CHECK-NOT:  scf.if
// CHECK:      memref.load %[[L]]
// CHECK-NOT:  scf.if
// CHECK:      memref.load %[[L]]
// CHECK:      scf.if
// CHECK:      math.log
// CHECK:      math.log
// CHECK:      scf.yield
// CHECK-NEXT: } else {
// CHECK-NEXT: arith.constant 0xFF800000 : f32
// CHECK:      gpu.barrier
// CHECK:      return
// T256:       memref<8x256xi64, #gpu.address_space<workgroup>>
// ONE:        scf.for %{{.+}} = %{{.+}} to %c100 step %c512
// BADTIF:     error: xlstm-build-sampler: tokens-in-flight must be 1 to 64, got 0
// BAD:        error: xlstm-build-sampler: threads must be a multiple of 32 from 32 to 512 (per-warp histograms in 48 KiB of shared memory), got 48
module {
  func.func @step(%tokens: memref<?x1xi64> {xlstm.input = "tokens"}) -> (memref<?x1x100xf32> {xlstm.output = "logits"}) {
    %c0 = arith.constant 0 : index
    %b = memref.dim %tokens, %c0 : memref<?x1xi64>
    %l = memref.alloc(%b) : memref<?x1x100xf32>
    return %l : memref<?x1x100xf32>
  }
}

// -----

// A block stack (output y) has no vocabulary: nothing is added.
// CHECK-LABEL: func.func @step
// CHECK-NOT:   func.func @sample
module {
  func.func @step(%x: memref<?x1x8xf32> {xlstm.input = "x"}) -> (memref<?x1x8xf32> {xlstm.output = "y"}) {
    return %x : memref<?x1x8xf32>
  }
}
