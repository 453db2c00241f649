// The tensor-core building block of the GEMM lowering (docs/gpu-plan.md): one
// warp computes C(16x8) = A(16x16) * B(8x16)^T in bf16 with f32 accumulation.
// cp.async stages the tiles in shared memory, ldmatrix loads the fragments,
// and nvvm.mma.sync multiplies them. The fragments are bitcast to i32 because
// MLIR 22's nvgpu.mma.sync cannot deduce bf16 PTX types.
// RUN: xlstm-opt %s --xlstm-gpu-to-ptx="chip=sm_80" | FileCheck %s
// RUN: %if ptxas %{ xlstm-opt %s --xlstm-gpu-to-ptx="format=bin chip=sm_80 toolkit=%cuda_toolkit" | FileCheck %s --check-prefix=BIN %}

// CHECK: cp.async.cg.shared.global
// CHECK: cp.async.wait
// CHECK: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// CHECK: ldmatrix.sync.aligned.m8n8.x2.shared.b16
// CHECK: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// BIN: bin = "\7FELF

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @mma_tile(%a: memref<16x16xbf16>, %b: memref<8x16xbf16>, %c: memref<16x8xf32>)
        workgroup(%sa: memref<16x16xbf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64},
                  %sb: memref<8x16xbf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
        kernel {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %c2 = arith.constant 2 : index
      %c4 = arith.constant 4 : index
      %c8 = arith.constant 8 : index
      %c16 = arith.constant 16 : index
      %lane = gpu.lane_id
      // Each lane copies 16 B of A (rows lane/2, half lane%2) and, lanes < 16, of B.
      %row = arith.divui %lane, %c2 : index
      %half = arith.remui %lane, %c2 : index
      %col = arith.muli %half, %c8 : index
      %ta = nvgpu.device_async_copy %a[%row, %col], %sa[%row, %col], 8 {bypassL1}
          : memref<16x16xbf16> to memref<16x16xbf16, #gpu.address_space<workgroup>>
      %inb = arith.cmpi ult, %lane, %c16 : index
      scf.if %inb {
        %tb = nvgpu.device_async_copy %b[%row, %col], %sb[%row, %col], 8 {bypassL1}
            : memref<8x16xbf16> to memref<8x16xbf16, #gpu.address_space<workgroup>>
      }
      %g = nvgpu.device_async_create_group %ta
      nvgpu.device_async_wait %g {numGroups = 0 : i32}
      gpu.barrier
      // ldmatrix: lanes 0-15 address rows of the left 8 columns, 16-31 the right.
      %r16 = arith.remui %lane, %c16 : index
      %q = arith.divui %lane, %c16 : index
      %ac = arith.muli %q, %c8 : index
      %fa = nvgpu.ldmatrix %sa[%r16, %ac] {numTiles = 4 : i32, transpose = false}
          : memref<16x16xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
      %r8 = arith.remui %lane, %c8 : index
      %bq = arith.divui %r16, %c8 : index
      %bc = arith.muli %bq, %c8 : index
      %fb = nvgpu.ldmatrix %sb[%r8, %bc] {numTiles = 2 : i32, transpose = false}
          : memref<8x16xbf16, #gpu.address_space<workgroup>> -> vector<2x2xbf16>
      %ia = vector.bitcast %fa : vector<4x2xbf16> to vector<4x1xi32>
      %ib = vector.bitcast %fb : vector<2x2xbf16> to vector<2x1xi32>
      %a0 = vector.extract %ia[0, 0] : i32 from vector<4x1xi32>
      %a1 = vector.extract %ia[1, 0] : i32 from vector<4x1xi32>
      %a2 = vector.extract %ia[2, 0] : i32 from vector<4x1xi32>
      %a3 = vector.extract %ia[3, 0] : i32 from vector<4x1xi32>
      %b0 = vector.extract %ib[0, 0] : i32 from vector<2x1xi32>
      %b1 = vector.extract %ib[1, 0] : i32 from vector<2x1xi32>
      %z = arith.constant 0.0 : f32
      %d = nvvm.mma.sync A[%a0, %a1, %a2, %a3] B[%b0, %b1] C[%z, %z, %z, %z]
          {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>,
           multiplicandAPtxType = #nvvm.mma_type<bf16>,
           multiplicandBPtxType = #nvvm.mma_type<bf16>,
           shape = #nvvm.shape<m = 16, n = 8, k = 16>}
          : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
      // Accumulator fragment: lane holds rows lane/4 and lane/4+8, columns 2*(lane%4)+{0,1}.
      %d0 = llvm.extractvalue %d[0] : !llvm.struct<(f32, f32, f32, f32)>
      %d1 = llvm.extractvalue %d[1] : !llvm.struct<(f32, f32, f32, f32)>
      %d2 = llvm.extractvalue %d[2] : !llvm.struct<(f32, f32, f32, f32)>
      %d3 = llvm.extractvalue %d[3] : !llvm.struct<(f32, f32, f32, f32)>
      %crow = arith.divui %lane, %c4 : index
      %crow8 = arith.addi %crow, %c8 : index
      %l4 = arith.remui %lane, %c4 : index
      %ccol = arith.muli %l4, %c2 : index
      %ccol1 = arith.addi %ccol, %c1 : index
      memref.store %d0, %c[%crow, %ccol] : memref<16x8xf32>
      memref.store %d1, %c[%crow, %ccol1] : memref<16x8xf32>
      memref.store %d2, %c[%crow8, %ccol] : memref<16x8xf32>
      memref.store %d3, %c[%crow8, %ccol1] : memref<16x8xf32>
      gpu.return
    }
  }
}
