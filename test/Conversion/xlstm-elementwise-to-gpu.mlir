// RUN: xlstm-opt %s --xlstm-elementwise-to-gpu --canonicalize --cse | FileCheck %s
// RUN: xlstm-opt %s --xlstm-elementwise-to-gpu=vector-bytes=8 --canonicalize --cse | FileCheck %s --check-prefix=EIGHT
// RUN: xlstm-opt %s --xlstm-elementwise-to-gpu=vector-bytes=0 | FileCheck %s --check-prefix=OFF
// RUN: not xlstm-opt %s --xlstm-elementwise-to-gpu=vector-bytes=12 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not xlstm-opt %s --xlstm-elementwise-to-gpu=min-elements=-1 2>&1 | FileCheck %s --check-prefix=BADMIN
// RUN: xlstm-opt %s --xlstm-elementwise-to-gpu | FileCheck %s --check-prefix=RAW
// RUN: xlstm-opt %s --xlstm-elementwise-to-gpu | xlstm-opt --pass-pipeline="builtin.module(gpu-kernel-outlining)" | xlstm-opt --xlstm-gpu-to-ptx | FileCheck %s --check-prefix=PTX

#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#inner = affine_map<(d0, d1, d2) -> (d2)>
#row = affine_map<(d0, d1, d2) -> (d0, d1)>

// A thread per 8 innermost elements (16 bytes of the narrowest operand,
// bf16): one vector load per operand that runs along the innermost
// dimension (the f32 one 32 bytes, claiming the 16-byte alignment the pass
// proves), one scalar load of the gate that does
// not, the body 8 times, one vector store; the outer indices from one
// division per dimension.
// CHECK-LABEL: func @scale
// CHECK-SAME:  (%[[A:[^:]+]]: memref<?x?x64xf32>, %[[W:[^:]+]]: memref<64xbf16>, %[[G:[^:]+]]: memref<?x?xf32>, %[[Y:[^:]+]]: memref<?x?x64xbf16>)
// CHECK-DAG:   %[[B:.+]] = memref.dim %[[A]], %c0
// CHECK-DAG:   %[[S:.+]] = memref.dim %[[A]], %c1
// CHECK:       %[[ROWS:.+]] = arith.muli %[[B]], %[[S]]
// CHECK:       %[[ELEMENTS:.+]] = arith.muli %[[ROWS]], %c64
// CHECK:       %[[MANY:.+]] = arith.cmpi uge, %[[ELEMENTS]], %c262144
// CHECK:       scf.if %[[MANY]] {
// CHECK:       %[[THREADS:.+]] = arith.muli %[[ROWS]], %c8
// CHECK:       %[[BLOCKS:.+]] = arith.ceildivui %[[THREADS]], %c256
// CHECK:       gpu.launch blocks({{.*}}) in ({{.*}} = %[[BLOCKS]], {{.*}}) threads({{.*}}) in ({{.*}} = %c256,
// CHECK:         scf.if
// CHECK:           %[[V:.+]] = arith.remui %{{.+}}, %c8
// CHECK:           %[[C:.+]] = arith.muli %[[V]], %c8
// CHECK:           %[[ROW:.+]] = arith.divui %{{.+}}, %c8
// CHECK:           %[[J:.+]] = arith.remui %[[ROW]], %[[S]]
// CHECK:           %[[I:.+]] = arith.divui %[[ROW]], %[[S]]
// CHECK:           vector.load %[[A]][%[[I]], %[[J]], %[[C]]] {alignment = 16 : i64} : memref<?x?x64xf32>, vector<8xf32>
// CHECK:           vector.load %[[W]][%[[C]]] {alignment = 16 : i64} : memref<64xbf16>, vector<8xbf16>
// CHECK:           memref.load %[[G]][%[[I]], %[[J]]] : memref<?x?xf32>
// CHECK-COUNT-8:   arith.truncf {{.*}} : f32 to bf16
// CHECK:           vector.store %{{.+}}, %[[Y]][%[[I]], %[[J]], %[[C]]] {alignment = 16 : i64} : memref<?x?x64xbf16>, vector<8xbf16>
// Fewer than min-elements elements (known only at run time here): a
// thread per element, as before.
// CHECK:       } else {
// CHECK:         linalg.generic
// EIGHT-LABEL: func @scale
// EIGHT:         vector.load {{.*}} : memref<?x?x64xf32>, vector<4xf32>
// OFF-LABEL: func @scale
// OFF:         linalg.generic
// OFF-NOT:     gpu.launch
// BAD: vector-bytes must be 0, 1, 2, 4, 8 or 16, got 12
// BADMIN: min-elements must be at least 0
// PTX: ld.global.v4.b32
// PTX: st.global.v4.b32
func.func @scale(%a: memref<?x?x64xf32>, %w: memref<64xbf16>, %g: memref<?x?xf32>, %y: memref<?x?x64xbf16>) {
  linalg.generic {indexing_maps = [#id, #inner, #row, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%a, %w, %g : memref<?x?x64xf32>, memref<64xbf16>, memref<?x?xf32>) outs(%y : memref<?x?x64xbf16>) {
  ^bb0(%x: f32, %s: bf16, %gate: f32, %out: bf16):
    %e = arith.extf %s : bf16 to f32
    %m = arith.mulf %x, %e : f32
    %n = arith.mulf %m, %gate : f32
    %t = arith.truncf %n : f32 to bf16
    linalg.yield %t : bf16
  }
  return
}

// A transpose that keeps the innermost dimension: vectors move whole.
// CHECK-LABEL: func @transpose
// CHECK:       gpu.launch
// CHECK:         %[[V:.+]] = vector.load %arg0[%[[B:.+]], %[[S:.+]], %[[H:.+]], %[[C:.+]]] {alignment = 16 : i64} : memref<?x?x4x64xbf16>, vector<8xbf16>
// CHECK:         vector.store %[[V]], %arg1[%[[B]], %[[H]], %[[S]], %[[C]]] {alignment = 16 : i64}
func.func @transpose(%a: memref<?x?x4x64xbf16>, %y: memref<?x4x?x64xbf16>) {
  linalg.transpose ins(%a : memref<?x?x4x64xbf16>) outs(%y : memref<?x4x?x64xbf16>) permutation = [0, 2, 1, 3]
  return
}

// The second half of the last dimension: a unit-step view at an offset of
// 64 elements of a buffer whose rows are 128 long, so aligned.
// CHECK-LABEL: func @half
// CHECK:       %[[HALF:.+]] = memref.subview
// CHECK:       gpu.launch
// CHECK:         vector.load %[[HALF]]{{.*}} {alignment = 16 : i64}
func.func @half(%a: memref<?x?x128xbf16>, %y: memref<?x?x64xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %d0 = memref.dim %a, %c0 : memref<?x?x128xbf16>
  %d1 = memref.dim %a, %c1 : memref<?x?x128xbf16>
  %s = memref.subview %a[0, 0, 64] [%d0, %d1, 64] [1, 1, 1] : memref<?x?x128xbf16> to memref<?x?x64xbf16, strided<[?, 128, 1], offset: 64>>
  linalg.copy ins(%s : memref<?x?x64xbf16, strided<[?, 128, 1], offset: 64>>) outs(%y : memref<?x?x64xbf16>)
  return
}

// Left to the generic path: an offset of 4 elements (not a multiple of 8),
// an innermost extent 8 does not divide and no power of two does, a
// reduction, a result indexed without the innermost dimension, and one
// not indexed by every loop (several iterations write each element).
// CHECK-LABEL: func @left_alone
// CHECK-NOT:   gpu.launch
// CHECK:       linalg.copy
// CHECK:       linalg.copy
// CHECK:       linalg.generic
// CHECK:       linalg.generic
// CHECK:       linalg.generic
// CHECK-NOT:   gpu.launch
// CHECK:       return
func.func @left_alone(%a: memref<?x?x128xbf16>, %y: memref<?x?x64xbf16>, %o: memref<?x?x63xbf16>, %p: memref<?x?x63xbf16>, %r: memref<?x?xf32>, %y2: memref<?x64xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %d0 = memref.dim %a, %c0 : memref<?x?x128xbf16>
  %d1 = memref.dim %a, %c1 : memref<?x?x128xbf16>
  %s = memref.subview %a[0, 0, 4] [%d0, %d1, 64] [1, 1, 1] : memref<?x?x128xbf16> to memref<?x?x64xbf16, strided<[?, 128, 1], offset: 4>>
  linalg.copy ins(%s : memref<?x?x64xbf16, strided<[?, 128, 1], offset: 4>>) outs(%y : memref<?x?x64xbf16>)
  linalg.copy ins(%o : memref<?x?x63xbf16>) outs(%p : memref<?x?x63xbf16>)
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%y : memref<?x?x64xbf16>) outs(%r : memref<?x?xf32>) {
  ^bb0(%x: bf16, %acc: f32):
    %e = arith.extf %x : bf16 to f32
    %sum = arith.addf %acc, %e : f32
    linalg.yield %sum : f32
  }
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%y : memref<?x?x64xbf16>) outs(%r : memref<?x?xf32>) {
  ^bb0(%x: bf16, %acc: f32):
    %e = arith.extf %x : bf16 to f32
    linalg.yield %e : f32
  }
  linalg.generic {indexing_maps = [#id, affine_map<(d0, d1, d2) -> (d1, d2)>], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%y : memref<?x?x64xbf16>) outs(%y2 : memref<?x64xbf16>) {
  ^bb0(%x: bf16, %old: bf16):
    linalg.yield %x : bf16
  }
  return
}

// A static iteration space below min-elements (8 x 4096 elements: a
// decoding step) stays generic; at or above it, vectorised.
// CHECK-LABEL: func @small_and_large
// CHECK-NOT:   scf.if
// RAW-LABEL: func @small_and_large
// RAW-NOT:     scf.if
// RAW:         linalg.copy
// RAW:         gpu.launch
// RAW:         gpu.terminator
// RAW-NEXT:    }
// RAW-NEXT:    return
// CHECK:       linalg.copy
// CHECK:       gpu.launch
// CHECK-NOT:   linalg.copy
// CHECK:       return
func.func @small_and_large(%a: memref<8x4096xbf16>, %b: memref<8x4096xbf16>, %c: memref<64x4096xbf16>, %d: memref<64x4096xbf16>) {
  linalg.copy ins(%a : memref<8x4096xbf16>) outs(%b : memref<8x4096xbf16>)
  linalg.copy ins(%c : memref<64x4096xbf16>) outs(%d : memref<64x4096xbf16>)
  return
}

// An embedding lookup added to a residual stream: the int64 token ids are a
// broadcast (one scalar load a thread), and the body's load of the table
// row runs along the innermost index, so it is one vector load of 4 bf16
// (the float32 operands set V = 4) shared by the four lanes. A load whose
// row index varies per lane (the token read along the innermost dimension)
// keeps a scalar load per lane.
// CHECK-LABEL: func @embedding
// CHECK-SAME:  (%[[T:[^:]+]]: memref<?x?xi64>, %[[E:[^:]+]]: memref<1024x64xbf16>, %[[R:[^:]+]]: memref<?x?x64xf32>)
// CHECK:       gpu.launch
// CHECK:         %[[TOK:.+]] = memref.load %[[T]]
// CHECK:         vector.load %[[R]]{{.*}} : memref<?x?x64xf32>, vector<4xf32>
// CHECK:         %[[ROW:.+]] = arith.index_cast %[[TOK]] : i64 to index
// CHECK:         vector.load %[[E]][%[[ROW]], %{{.+}}] {alignment = 8 : i64} : memref<1024x64xbf16>, vector<4xbf16>
// CHECK-NOT:     memref.load %[[E]]
// CHECK-COUNT-4: arith.addf
// CHECK:         vector.store {{.*}} : memref<?x?x64xf32>, vector<4xf32>
func.func @embedding(%t: memref<?x?xi64>, %e: memref<1024x64xbf16>, %r: memref<?x?x64xf32>) {
  linalg.generic {indexing_maps = [#row, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%t : memref<?x?xi64>) outs(%r : memref<?x?x64xf32>) {
  ^bb0(%tok: i64, %acc: f32):
    %j = linalg.index 2 : index
    %i = arith.index_cast %tok : i64 to index
    %v = memref.load %e[%i, %j] : memref<1024x64xbf16>
    %x = arith.extf %v : bf16 to f32
    %s = arith.addf %acc, %x : f32
    linalg.yield %s : f32
  }
  return
}

// CHECK-LABEL: func @gather_per_lane
// CHECK:       gpu.launch
// CHECK-COUNT-4: memref.load %{{.+}}[%{{.+}}, %{{.+}}] : memref<64x64xf32>
// CHECK-NOT:   vector.load {{.*}} : memref<64x64xf32>
func.func @gather_per_lane(%t: memref<?x?x64xi32>, %e: memref<64x64xf32>, %y: memref<?x?x64xf32>) {
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%t : memref<?x?x64xi32>) outs(%y : memref<?x?x64xf32>) {
  ^bb0(%tok: i32, %o: f32):
    %j = linalg.index 2 : index
    %i = arith.index_cast %tok : i32 to index
    %v = memref.load %e[%i, %j] : memref<64x64xf32>
    linalg.yield %v : f32
  }
  return
}
