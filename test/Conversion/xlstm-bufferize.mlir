// RUN: xlstm-opt %s --xlstm-bufferize --canonicalize | FileCheck %s
// RUN: xlstm-opt %s --xlstm-bufferize=reuse-dead-inputs=0 --canonicalize | FileCheck %s --check-prefix=KEEP

// Function boundaries become dense buffers; a loop may yield a fresh buffer
// each iteration; the copy into the slice is a linalg.copy (a kernel later),
// not a memref.copy.
// CHECK-LABEL: func @scan
// CHECK-SAME:  (%[[X:.+]]: memref<?x8xf32>, %[[N:.+]]: index) -> memref<?x8xf32>
// CHECK:       scf.for {{.*}} -> (memref<?x8xf32>)
// CHECK:         memref.alloc
// CHECK:         linalg.generic
// CHECK:         scf.yield
// CHECK:       linalg.copy
// CHECK-NOT:   memref.copy
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @scan(%x: tensor<?x8xf32>, %n: index) -> tensor<?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %x) -> tensor<?x8xf32> {
    %e = tensor.empty(%n) : tensor<?x8xf32>
    %next = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
        ins(%acc, %x : tensor<?x8xf32>, tensor<?x8xf32>) outs(%e : tensor<?x8xf32>) {
    ^bb0(%a: f32, %b: f32, %o: f32):
      %s = arith.addf %a, %b : f32
      linalg.yield %s : f32
    } -> tensor<?x8xf32>
    scf.yield %next : tensor<?x8xf32>
  }
  %slice = tensor.extract_slice %r[0, 0] [%n, 4] [1, 1] : tensor<?x8xf32> to tensor<?x4xf32>
  %out = tensor.insert_slice %slice into %x[0, 4] [%n, 4] [1, 1] : tensor<?x4xf32> into tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}

// reuse-dead-inputs (the default): a residual add r + y of a projection's
// y whose r no later op reads writes over r's buffer (r = r + y in place,
// which accumulate-residuals folds into the projection); r read again later,
// a function argument (the caller's), or an add of no projection keeps a
// buffer of its own.
// CHECK-LABEL: func @residual
// CHECK-SAME:  (%[[X:[^:]+]]: memref<?x8xf32>, %[[W:[^:]+]]: memref<8x8xf32>
// CHECK:       %[[R:.+]] = memref.alloc
// CHECK:       linalg.generic {{.*}} ins(%[[X]], %[[X]] : {{.*}}) outs(%[[R]] : {{.*}})
// CHECK:       %[[Y:.+]] = memref.alloc
// CHECK:       linalg.contract {{.*}} outs(%[[Y]] : {{.*}})
// CHECK:       linalg.generic {{.*}} ins(%[[R]], %[[Y]] : {{.*}}) outs(%[[R]] : {{.*}})
// CHECK:       return %[[R]]
// KEEP-LABEL:  func @residual
// KEEP:        %[[KR:.+]] = memref.alloc
// KEEP:        linalg.generic {{.*}} outs(%[[KR]] :
// KEEP-NOT:    outs(%[[KR]] :
// KEEP-LABEL:  func @read_later
// (r read later: the add keeps a buffer of its own and no copy of r.)
// CHECK-LABEL: func @read_later
// CHECK:       %[[LR:.+]] = memref.alloc
// CHECK:       linalg.generic {{.*}} outs(%[[LR]] :
// CHECK-NOT:   outs(%[[LR]] :
// CHECK-NOT:   linalg.copy
// CHECK:       return
// CHECK-LABEL: func @argument
// CHECK-COUNT-2: memref.alloc
// CHECK-LABEL: func @no_projection
// CHECK-COUNT-2: memref.alloc
#id2 = affine_map<(d0, d1) -> (d0, d1)>
#xk = affine_map<(d0, d1, d2) -> (d0, d2)>
#wk = affine_map<(d0, d1, d2) -> (d1, d2)>
#yk = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @residual(%x: tensor<?x8xf32>, %w: tensor<8x8xf32>, %n: index) -> tensor<?x8xf32> {
  %e0 = tensor.empty(%n) : tensor<?x8xf32>
  %r = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%x, %x : tensor<?x8xf32>, tensor<?x8xf32>) outs(%e0 : tensor<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<?x8xf32>
  %zero = arith.constant 0.0 : f32
  %ey = tensor.empty(%n) : tensor<?x8xf32>
  %fy = linalg.fill ins(%zero : f32) outs(%ey : tensor<?x8xf32>) -> tensor<?x8xf32>
  %y = linalg.contract indexing_maps = [#xk, #wk, #yk]
      ins(%x, %w : tensor<?x8xf32>, tensor<8x8xf32>) outs(%fy : tensor<?x8xf32>) -> tensor<?x8xf32>
  %e1 = tensor.empty(%n) : tensor<?x8xf32>
  %s = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%r, %y : tensor<?x8xf32>, tensor<?x8xf32>) outs(%e1 : tensor<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.addf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<?x8xf32>
  return %s : tensor<?x8xf32>
}
func.func @read_later(%x: tensor<?x8xf32>, %w: tensor<8x8xf32>, %n: index) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %e0 = tensor.empty(%n) : tensor<?x8xf32>
  %r = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%x, %x : tensor<?x8xf32>, tensor<?x8xf32>) outs(%e0 : tensor<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<?x8xf32>
  %zero = arith.constant 0.0 : f32
  %ey = tensor.empty(%n) : tensor<?x8xf32>
  %fy = linalg.fill ins(%zero : f32) outs(%ey : tensor<?x8xf32>) -> tensor<?x8xf32>
  %y = linalg.contract indexing_maps = [#xk, #wk, #yk]
      ins(%x, %w : tensor<?x8xf32>, tensor<8x8xf32>) outs(%fy : tensor<?x8xf32>) -> tensor<?x8xf32>
  %e1 = tensor.empty(%n) : tensor<?x8xf32>
  %s = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%r, %y : tensor<?x8xf32>, tensor<?x8xf32>) outs(%e1 : tensor<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.addf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<?x8xf32>
  return %s, %r : tensor<?x8xf32>, tensor<?x8xf32>
}
func.func @argument(%x: tensor<?x8xf32>, %w: tensor<8x8xf32>, %n: index) -> tensor<?x8xf32> {
  %zero = arith.constant 0.0 : f32
  %ey = tensor.empty(%n) : tensor<?x8xf32>
  %fy = linalg.fill ins(%zero : f32) outs(%ey : tensor<?x8xf32>) -> tensor<?x8xf32>
  %y = linalg.contract indexing_maps = [#xk, #wk, #yk]
      ins(%x, %w : tensor<?x8xf32>, tensor<8x8xf32>) outs(%fy : tensor<?x8xf32>) -> tensor<?x8xf32>
  %e1 = tensor.empty(%n) : tensor<?x8xf32>
  %s = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%x, %y : tensor<?x8xf32>, tensor<?x8xf32>) outs(%e1 : tensor<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.addf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<?x8xf32>
  return %s : tensor<?x8xf32>
}
func.func @no_projection(%x: tensor<?x8xf32>, %y: tensor<?x8xf32>, %n: index) -> tensor<?x8xf32> {
  %e0 = tensor.empty(%n) : tensor<?x8xf32>
  %r = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%x, %x : tensor<?x8xf32>, tensor<?x8xf32>) outs(%e0 : tensor<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<?x8xf32>
  %e1 = tensor.empty(%n) : tensor<?x8xf32>
  %s = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%r, %y : tensor<?x8xf32>, tensor<?x8xf32>) outs(%e1 : tensor<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.addf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<?x8xf32>
  return %s : tensor<?x8xf32>
}
