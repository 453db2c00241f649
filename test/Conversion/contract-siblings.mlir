// Sibling projections: contractions of one x (the same buffer and K, in one
// block) decode in one launch, a range of blocks per projection, where the
// first of them stands; for more than gemv-max-rows rows each keeps its own
// tiled kernels there. Between the siblings, a consumer of the first one's
// output (the gate's soft cap of the xLSTM-7B) stays after the launch, and
// the later outputs' allocations move up to it.
// RUN: xlstm-opt %s --xlstm-contract-to-mma --cse | FileCheck %s
// RUN: xlstm-opt %s --xlstm-contract-to-mma="sibling-projections=false" --cse | FileCheck %s --check-prefix=OFF
// The siblings' launch has blocks enough: no occupancy hint to ptxas.
// RUN: xlstm-opt %s --xlstm-contract-to-mma | FileCheck %s --check-prefix=NOHINT
// NOHINT: gpu.func @projection_small_batch_mma_siblings({{.*}}) workgroup({{.*}}) kernel attributes {known_block_size = array<i32: 256, 1, 1>} {
// RUN: xlstm-opt %s --xlstm-contract-to-mma="gemv-loads-in-flight=0" --cse | FileCheck %s --check-prefix=UNROLL
// RUN: not xlstm-opt %s --xlstm-contract-to-mma="gemv-loads-in-flight=-1" 2>&1 | FileCheck %s --check-prefix=BAD

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>

// CHECK-LABEL: func @siblings(
// CHECK-SAME:      %[[X:[^:]+]]: memref<?x4096xbf16>, %[[WQ:[^:]+]]: memref<2048x4096xbf16> {{.*}}, %[[WV:[^:]+]]: memref<4096x4096xbf16> {{.*}}, %[[WI:[^:]+]]: memref<8x4096xbf16>
// CHECK:         %[[Q:.+]] = memref.alloc(%{{.+}}) : memref<?x2048xf32>
// CHECK:         %[[V:.+]] = memref.alloc(%{{.+}}) : memref<?x4096xf32>
// CHECK:         %[[I:.+]] = memref.alloc(%{{.+}}) : memref<?x8xf32>
// CHECK:         scf.if
// CHECK:           scf.if
// 512 + 1024 + 2 blocks of 4 warps, a warp per row of W; 6152 warps keep
// 16384 loads in flight at 4 per lane:
// CHECK:             gpu.launch_func @projection_gemv_siblings::@projection_gemv_siblings blocks in (%c1538, %c1, %c1) threads in (%c128, %c1, %c1) args(%[[X]] : memref<?x4096xbf16>, %{{.+}} : index, %[[WQ]] : memref<2048x4096xbf16>, %[[Q]] : memref<?x2048xf32>, %[[WV]] : memref<4096x4096xbf16>, %[[V]] : memref<?x4096xf32>, %[[WI]] : memref<8x4096xbf16>, %[[I]] : memref<?x8xf32>)
// CHECK-SAME:        {xlstm.kernel = [{{.*}}kernel = "gemv 4 warps unroll 4, one launch for 3 projections of one x"{{.*}}param = "q"{{.*}}when = "M = 1"}, {{.*}}param = "v"{{.*}}, {{.*}}param = "igate"{{.*}}]}
// CHECK:           } else {
// 128 + 256 + 1 blocks of 16 rows:
// CHECK:             gpu.launch_func @projection_small_batch_mma_siblings::@projection_small_batch_mma_siblings blocks in (%c385, %c1, %c1)
// CHECK:         } else {
// CHECK:           gpu.launch_func @projection_mma_staged
// CHECK:           gpu.launch_func @projection_mma_staged
// CHECK:           gpu.launch_func @projection_skinny_mma
// CHECK:         }
// The soft cap reads the first output after the launch.
// CHECK:         linalg.generic {{.*}} ins(%[[Q]] : memref<?x2048xf32>)
// CHECK-NOT:     gpu.launch_func
// CHECK:         return
// OFF-LABEL: func @siblings(
// OFF-NOT:     _siblings
// OFF:         return

// A lone projection of 4096 rows: 4096 warps keep 16384 loads in flight at
// 4 per lane (gemv-unroll 2 otherwise).
// CHECK-LABEL: func @alone(
// CHECK:         "gemv 4 warps unroll 4, adding to its output"
// UNROLL-LABEL: func @alone(
// UNROLL:        "gemv 4 warps unroll 2, adding to its output"

// No siblings where something between them writes x or the later one's W,
// where one adds into the other's output, where one's (rounded) output is
// the other's W, or where a buffer has aliases the pass cannot follow (a
// select of memrefs).
// CHECK-LABEL: func @x_written(
// CHECK-NOT:     _siblings
// CHECK:         return
// CHECK-LABEL: func @same_output(
// CHECK-NOT:     _siblings
// CHECK:         return
// CHECK-LABEL: func @w_written(
// CHECK-NOT:     _siblings
// CHECK:         return
// CHECK-LABEL: func @output_is_w(
// CHECK-NOT:     _siblings
// CHECK:         return
// CHECK-LABEL: func @selected_output(
// CHECK-NOT:     _siblings
// CHECK:         return

// Block b below 512 runs q's rows, then v's from block 512, igate's from
// block 1536 on.
// CHECK:       gpu.func @projection_gemv_siblings(
// CHECK:         %[[B:.+]] = gpu.block_id x
// CHECK:         %[[INQ:.+]] = arith.cmpi ult, %[[B]], %c512
// CHECK:         scf.if %[[INQ]] {
// CHECK:           vector.load {{.*}} : memref<2048x4096xbf16>, vector<8xbf16>
// CHECK:         } else {
// CHECK:           %[[INV:.+]] = arith.cmpi ult, %[[B]], %c1536
// CHECK:           scf.if %[[INV]] {
// CHECK:             arith.subi %[[B]], %c512
// CHECK:             vector.load {{.*}} : memref<4096x4096xbf16>, vector<8xbf16>
// CHECK:           } else {
// CHECK:             arith.subi %[[B]], %c1536
// CHECK:             vector.load {{.*}} : memref<8x4096xbf16>, vector<8xbf16>

// BAD: gemv-loads-in-flight at least 0
func.func @siblings(%x: memref<?x4096xbf16>, %wq: memref<2048x4096xbf16> {xlstm.param = "q"},
                    %wv: memref<4096x4096xbf16> {xlstm.param = "v"},
                    %wi: memref<8x4096xbf16> {xlstm.param = "igate"}) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x4096xbf16>
  %q = memref.alloc(%m) : memref<?x2048xf32>
  linalg.fill ins(%zero : f32) outs(%q : memref<?x2048xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %wq : memref<?x4096xbf16>, memref<2048x4096xbf16>)
      outs(%q : memref<?x2048xf32>)
  %capped = memref.alloc(%m) : memref<?x2048xf32>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%q : memref<?x2048xf32>) outs(%capped : memref<?x2048xf32>) {
  ^bb0(%in: f32, %out: f32):
    %t = math.tanh %in : f32
    linalg.yield %t : f32
  }
  %v = memref.alloc(%m) : memref<?x4096xf32>
  linalg.fill ins(%zero : f32) outs(%v : memref<?x4096xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %wv : memref<?x4096xbf16>, memref<4096x4096xbf16>)
      outs(%v : memref<?x4096xf32>)
  %i = memref.alloc(%m) : memref<?x8xf32>
  linalg.fill ins(%zero : f32) outs(%i : memref<?x8xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %wi : memref<?x4096xbf16>, memref<8x4096xbf16>)
      outs(%i : memref<?x8xf32>)
  return
}

func.func @alone(%x: memref<?x4096xbf16>, %w: memref<4096x4096xbf16>, %y: memref<?x4096xf32>) {
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x4096xbf16>, memref<4096x4096xbf16>)
      outs(%y : memref<?x4096xf32>)
  return
}

func.func @x_written(%x: memref<?x4096xbf16>, %w1: memref<2048x4096xbf16>, %w2: memref<2048x4096xbf16>,
                     %y1: memref<?x2048xf32>, %y2: memref<?x2048xf32>) {
  %one = arith.constant 1.0 : bf16
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w1 : memref<?x4096xbf16>, memref<2048x4096xbf16>)
      outs(%y1 : memref<?x2048xf32>)
  linalg.fill ins(%one : bf16) outs(%x : memref<?x4096xbf16>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w2 : memref<?x4096xbf16>, memref<2048x4096xbf16>)
      outs(%y2 : memref<?x2048xf32>)
  return
}

func.func @same_output(%x: memref<?x4096xbf16>, %w1: memref<2048x4096xbf16>, %w2: memref<2048x4096xbf16>,
                       %y: memref<?x2048xf32>) {
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w1 : memref<?x4096xbf16>, memref<2048x4096xbf16>)
      outs(%y : memref<?x2048xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w2 : memref<?x4096xbf16>, memref<2048x4096xbf16>)
      outs(%y : memref<?x2048xf32>)
  return
}

func.func @w_written(%x: memref<?x4096xbf16>, %w1: memref<2048x4096xbf16>, %src: memref<2048x4096xbf16>,
                     %y1: memref<?x2048xf32>, %y2: memref<?x2048xf32>) {
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w1 : memref<?x4096xbf16>, memref<2048x4096xbf16>)
      outs(%y1 : memref<?x2048xf32>)
  %w2 = memref.alloc() : memref<2048x4096xbf16>
  linalg.copy ins(%src : memref<2048x4096xbf16>) outs(%w2 : memref<2048x4096xbf16>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w2 : memref<?x4096xbf16>, memref<2048x4096xbf16>)
      outs(%y2 : memref<?x2048xf32>)
  return
}

func.func @output_is_w(%x: memref<16x4096xbf16>, %w1: memref<4096x4096xbf16>,
                       %y2: memref<16x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %y = memref.alloc() : memref<16x4096xbf16>
  %t = memref.alloc() : memref<16x4096xf32>
  linalg.fill ins(%zero : f32) outs(%t : memref<16x4096xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w1 : memref<16x4096xbf16>, memref<4096x4096xbf16>)
      outs(%t : memref<16x4096xf32>)
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%t : memref<16x4096xf32>) outs(%y : memref<16x4096xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %r = arith.truncf %in : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %t : memref<16x4096xf32>
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %y : memref<16x4096xbf16>, memref<16x4096xbf16>)
      outs(%y2 : memref<16x16xf32>)
  return
}

func.func @selected_output(%x: memref<1x4096xbf16>, %w1: memref<2048x4096xbf16>, %w2: memref<2048x4096xbf16>,
                           %y1: memref<1x2048xf32>, %y2: memref<1x2048xf32>, %r: memref<1x2048xf32>, %c: i1) {
  %a = arith.select %c, %y2, %r : memref<1x2048xf32>
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w1 : memref<1x4096xbf16>, memref<2048x4096xbf16>)
      outs(%y1 : memref<1x2048xf32>)
  %one = arith.constant 1.0 : f32
  linalg.fill ins(%one : f32) outs(%a : memref<1x2048xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w2 : memref<1x4096xbf16>, memref<2048x4096xbf16>)
      outs(%y2 : memref<1x2048xf32>)
  return
}
