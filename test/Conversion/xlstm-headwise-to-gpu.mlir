// Small-block headwise projections become one kernel: a thread per (row,
// block) with the block's inputs loaded as one vector, the bias added and
// the outputs stored as one vector. Wider blocks that become tensor-core
// projections stay; others up to max-wide-block get a thread per group of
// outputs.
// RUN: xlstm-opt %s --split-input-file --xlstm-headwise-to-gpu=in-place-slices=0 | FileCheck %s
// RUN: xlstm-opt %s --split-input-file --xlstm-headwise-to-gpu | FileCheck %s --check-prefix=SLICE
// RUN: xlstm-opt %s --split-input-file --xlstm-headwise-to-gpu=max-wide-block=0 | FileCheck %s --check-prefix=NOWIDE

// CHECK-LABEL: func @qkv
// CHECK-NOT:   xlstm.headwise_linear
// CHECK:       memref.collapse_shape {{.*}} into memref<?x256xbf16>
// CHECK:       gpu.launch
// CHECK:         vector.load {{.*}} : memref<?x256xbf16>, vector<4xbf16>
// CHECK:         vector.load {{.*}} : memref<64x4x4xbf16>, vector<4xbf16>
// CHECK:         vector.store {{.*}} : memref<?x256xbf16>, vector<4xbf16>
// CHECK:       } {xlstm.kernel = {dtype = "bf16", family = "projection", kernel = "headwise, a thread per 4x4 block", shape = "?x64x4x4"}}
func.func @qkv(%x: tensor<?x?x256xbf16>, %w: tensor<64x4x4xbf16>, %b: tensor<256xbf16>) -> tensor<?x?x256xbf16> {
  %y = xlstm.headwise_linear %x, %w bias(%b)
      : (tensor<?x?x256xbf16>, tensor<64x4x4xbf16>, tensor<256xbf16>) -> tensor<?x?x256xbf16>
  return %y : tensor<?x?x256xbf16>
}

// -----

// The mLSTM's v reads half of the up projection in place: a strided view
// of it (no dense copy), each row's leading indices split from the row.
// (With in-place-slices=0 it is read as dense rows.)
// SLICE-LABEL: func @column_slice
// SLICE:       %[[X:.+]] = memref.subview %{{.+}}[0, 0, 256] [%{{.+}}, %{{.+}}, 256] [1, 1, 1]
// SLICE-SAME:    to memref<?x?x256xbf16, strided<[?, 512, 1], offset: 256>>
// SLICE:       gpu.launch
// SLICE:         %[[S:.+]] = memref.dim %[[X]], %c1
// SLICE:         %[[T:.+]] = arith.remui %{{.+}}, %[[S]]
// SLICE:         %[[B:.+]] = arith.divui %{{.+}}, %[[S]]
// SLICE:         vector.load %[[X]][%[[B]], %[[T]], %{{.+}}] {{.*}} vector<4xbf16>
// SLICE:       kernel = "headwise, a thread per 4x4 block, input read in place"
// CHECK-LABEL: func @column_slice
// CHECK:       memref.collapse_shape {{.*}} into memref<?x256xbf16>
// CHECK-NOT:   memref.subview
func.func @column_slice(%up: tensor<?x?x512xbf16>, %w: tensor<64x4x4xbf16>) -> tensor<?x?x256xbf16> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %up, %c0 : tensor<?x?x512xbf16>
  %s = tensor.dim %up, %c1 : tensor<?x?x512xbf16>
  %x = tensor.extract_slice %up[0, 0, 256] [%b, %s, 256] [1, 1, 1]
      : tensor<?x?x512xbf16> to tensor<?x?x256xbf16>
  %y = xlstm.headwise_linear %x, %w : (tensor<?x?x256xbf16>, tensor<64x4x4xbf16>) -> tensor<?x?x256xbf16>
  return %y : tensor<?x?x256xbf16>
}

// -----

// CHECK-LABEL: func @wide
// CHECK:       xlstm.headwise_linear
// CHECK-NOT:   gpu.launch
func.func @wide(%x: tensor<?x128xf32>, %w: tensor<4x32x32xf32>) -> tensor<?x128xf32> {
  %y = xlstm.headwise_linear %x, %w : (tensor<?x128xf32>, tensor<4x32x32xf32>) -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}

// -----

// Mid-sized blocks that no mma tile divides (an sLSTM of width 72: 4 heads
// of 18x18): a thread per 9 outputs of a block, x and W rows read two bf16
// at a time (36-byte rows), the 9 outputs stored one by one.
// CHECK-LABEL: func @mid_size
// CHECK:       gpu.launch
// CHECK:         vector.load {{.*}} : memref<?x72xbf16>, vector<2xbf16>
// CHECK:         vector.load {{.*}} : memref<4x18x18xbf16>, vector<2xbf16>
// CHECK-NOT:     vector.store
// CHECK:         memref.store {{.*}} : memref<?x72xbf16>
// CHECK:       } {xlstm.kernel = {dtype = "bf16", family = "projection", kernel = "headwise, a thread per 9 outputs of a 18x18 block", shape = "?x4x18x18"}}
// NOWIDE-LABEL: func @mid_size
// NOWIDE-NOT:   gpu.launch
// NOWIDE:       xlstm.headwise_linear
func.func @mid_size(%x: tensor<?x?x72xbf16>, %w: tensor<4x18x18xbf16>) -> tensor<?x?x72xbf16> {
  %y = xlstm.headwise_linear %x, %w : (tensor<?x?x72xbf16>, tensor<4x18x18xbf16>) -> tensor<?x?x72xbf16>
  return %y : tensor<?x?x72xbf16>
}

// -----

// Tile-sized blocks, but more than 16 of them (no projection per block):
// a thread per 16 outputs of a block, 16-byte loads and stores.
// CHECK-LABEL: func @many_blocks
// CHECK:       gpu.launch
// CHECK:         vector.load {{.*}} : memref<?x1024xbf16>, vector<8xbf16>
// CHECK:         vector.load {{.*}} : memref<32x32x32xbf16>, vector<8xbf16>
// CHECK:         vector.store {{.*}} : memref<?x1024xbf16>, vector<8xbf16>
// CHECK:       } {xlstm.kernel = {{.*}}kernel = "headwise, a thread per 16 outputs of a 32x32 block"
func.func @many_blocks(%x: tensor<?x1024xbf16>, %w: tensor<32x32x32xbf16>, %b: tensor<1024xbf16>) -> tensor<?x1024xbf16> {
  %y = xlstm.headwise_linear %x, %w bias(%b) : (tensor<?x1024xbf16>, tensor<32x32x32xbf16>, tensor<1024xbf16>) -> tensor<?x1024xbf16>
  return %y : tensor<?x1024xbf16>
}

// -----

// Empty blocks: nothing to launch, left to the generic lowering.
// CHECK-LABEL: func @empty_blocks
// CHECK-NOT:   gpu.launch
// CHECK:       xlstm.headwise_linear
func.func @empty_blocks(%x: tensor<?x40xbf16>, %w: tensor<2x0x20xbf16>) -> tensor<?x0xbf16> {
  %y = xlstm.headwise_linear %x, %w : (tensor<?x40xbf16>, tensor<2x0x20xbf16>) -> tensor<?x0xbf16>
  return %y : tensor<?x0xbf16>
}

// -----

// A float64 result, and a result whose leading dimensions differ from x's
// (the kernel sizes the result from x): left to the generic lowering.
// CHECK-LABEL: func @declined
// CHECK-NOT:   gpu.launch
// CHECK:       xlstm.headwise_linear
// CHECK:       xlstm.headwise_linear
func.func @declined(%x: tensor<?x8xf32>, %w: tensor<4x2x2xf32>, %x2: tensor<2x3x256xbf16>, %w2: tensor<64x4x4xbf16>)
    -> (tensor<?x8xf64>, tensor<?x3x256xbf16>) {
  %y = xlstm.headwise_linear %x, %w : (tensor<?x8xf32>, tensor<4x2x2xf32>) -> tensor<?x8xf64>
  %y2 = xlstm.headwise_linear %x2, %w2 : (tensor<2x3x256xbf16>, tensor<64x4x4xbf16>) -> tensor<?x3x256xbf16>
  return %y, %y2 : tensor<?x8xf64>, tensor<?x3x256xbf16>
}
