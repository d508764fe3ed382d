"""Matrix multiply C = A @ B, row-major, float32 or float64: three flavors.

naive: the scalar i-j-k triple loop (B read down a column, one element at a time).
simd:  the article's kind: for each C[i, j] a SIMD dot product of row i of A with
       column j of B, the column gathered with a strided load. No packing, no tiling,
       one thread.
best:  BLIS-style. B is packed into NR-wide column panels (NR = 4 SIMD vectors: 64
       floats / 32 doubles), A into MR=6-row panels; a 6 x NR register-blocked micro-kernel
       keeps 24 vector accumulators in zmm registers and does one broadcast + 4 FMAs per
       row per k. Cache blocking KC x MC x NC. Threads take contiguous row (or column)
       ranges of C; every element of C is computed by the same sequence of operations
       whatever the split, so results are bitwise identical for any thread count.
"""

from std.sys import simd_width_of
from std.collections import Array
from max.algorithm import parallelize

from common import Ptr, scratch, split_range

comptime MR = 6


def matmul_naive[dt: DType](a: Ptr[dt], b: Ptr[dt], c: Ptr[dt], M: Int, K: Int, N: Int):
    for i in range(M):
        for j in range(N):
            var s: Scalar[dt] = 0
            for k in range(K):
                s += a[unsafe_offset=i * K + k] * b[unsafe_offset=k * N + j]
            c[unsafe_offset=i * N + j] = s


def matmul_simd[dt: DType](a: Ptr[dt], b: Ptr[dt], c: Ptr[dt], M: Int, K: Int, N: Int):
    comptime W = simd_width_of[dt]()
    for i in range(M):
        var arow = a.unsafe_offset(i * K)
        for j in range(N):
            var acc = SIMD[dt, W](0)
            var k = 0
            while k + W <= K:
                var av = arow.unsafe_load[width=W](k)
                var bv = b.unsafe_offset(k * N + j).unsafe_strided_load[width=W](N)
                acc += av * bv
                k += W
            var s = acc.reduce_add()
            while k < K:
                s += arow[unsafe_offset=k] * b[unsafe_offset=k * N + j]
                k += 1
            c[unsafe_offset=i * N + j] = s


# ---------------------------------------------------------------------------- best


def kc_of[dt: DType]() -> Int:
    return 512 if dt == DType.float32 else 256


def mc_of[dt: DType]() -> Int:
    return 96


def nc_of[dt: DType]() -> Int:
    return 4096


@always_inline
def micro_kernel[dt: DType, NV: Int](
    kc: Int, ap: Ptr[dt], bp: Ptr[dt], c: Ptr[dt], ldc: Int, first: Bool
):
    """C[0:MR, 0:NV*W] (+)= Apanel[kc x MR]^T-packed times Bpanel[kc x NV*W]."""
    comptime W = simd_width_of[dt]()
    comptime NR = NV * W
    var acc = Array[SIMD[dt, W], MR * NV](fill=0)
    for k in range(kc):
        var bv = Array[SIMD[dt, W], NV](uninitialized=True)
        comptime for v in range(NV):
            bv[v] = bp.unsafe_load[width=W](k * NR + v * W)
        comptime for i in range(MR):
            var av = SIMD[dt, W](ap[unsafe_offset=k * MR + i])
            comptime for v in range(NV):
                acc[i * NV + v] = av.fma(bv[v], acc[i * NV + v])
    if first:
        comptime for i in range(MR):
            comptime for v in range(NV):
                c.unsafe_store(i * ldc + v * W, acc[i * NV + v])
    else:
        comptime for i in range(MR):
            comptime for v in range(NV):
                var p = i * ldc + v * W
                c.unsafe_store(p, c.unsafe_load[width=W](p) + acc[i * NV + v])


def pack_b[dt: DType, NR: Int](
    b: Ptr[dt], N: Int, pc: Int, kc: Int, jc: Int, nc: Int, bp: Ptr[dt]
):
    """bp[(jp * kc + k) * NR + jj] = B[pc + k, jc + jp * NR + jj], zero past column nc."""
    comptime W = simd_width_of[dt]()
    var npan = (nc + NR - 1) // NR
    for jp in range(npan):
        var j0 = jc + jp * NR
        var w = min(NR, jc + nc - j0)
        var dst = bp.unsafe_offset(jp * kc * NR)
        if w == NR:
            for k in range(kc):
                var src = b.unsafe_offset((pc + k) * N + j0)
                comptime for v in range(NR // W):
                    dst.unsafe_store(k * NR + v * W, src.unsafe_load[width=W](v * W))
        else:
            for k in range(kc):
                var src = b.unsafe_offset((pc + k) * N + j0)
                for jj in range(NR):
                    dst[unsafe_offset=k * NR + jj] = src[unsafe_offset=jj] if jj < w else 0


def pack_a[dt: DType](
    a: Ptr[dt], K: Int, ic: Int, mc: Int, pc: Int, kc: Int, ap: Ptr[dt]
):
    """ap[(ip * kc + k) * MR + ii] = A[ic + ip * MR + ii, pc + k], zero past row mc."""
    var npan = (mc + MR - 1) // MR
    for ip in range(npan):
        var i0 = ic + ip * MR
        var h = min(MR, ic + mc - i0)
        var dst = ap.unsafe_offset(ip * kc * MR)
        if h == MR:
            var s0 = a.unsafe_offset(i0 * K + pc)
            for k in range(kc):
                comptime for ii in range(MR):
                    dst[unsafe_offset=k * MR + ii] = s0[unsafe_offset=ii * K + k]
        else:
            for ii in range(MR):
                if ii < h:
                    var src = a.unsafe_offset((i0 + ii) * K + pc)
                    for k in range(kc):
                        dst[unsafe_offset=k * MR + ii] = src[unsafe_offset=k]
                else:
                    for k in range(kc):
                        dst[unsafe_offset=k * MR + ii] = 0


def gemm_block[dt: DType](
    a: Ptr[dt], b: Ptr[dt], c: Ptr[dt], M: Int, K: Int, N: Int,
    m0: Int, m1: Int, n0: Int, n1: Int,
):
    """C[m0:m1, n0:n1] = A[m0:m1, :] @ B[:, n0:n1] on one thread."""
    comptime W = simd_width_of[dt]()
    comptime NV = 4
    comptime NR = NV * W
    comptime KC = kc_of[dt]()
    comptime MC = mc_of[dt]()
    comptime NC = nc_of[dt]()
    if m1 <= m0 or n1 <= n0:
        return
    var ap = scratch[dt](MC * KC)
    var bp = scratch[dt](KC * NC)
    var tmp = scratch[dt](MR * NR)
    for jc in range(n0, n1, NC):
        var nc = min(NC, n1 - jc)
        for pc in range(0, K, KC):
            var kc = min(KC, K - pc)
            var first = pc == 0
            pack_b[dt, NR](b, N, pc, kc, jc, nc, bp)
            for ic in range(m0, m1, MC):
                var mc = min(MC, m1 - ic)
                pack_a[dt](a, K, ic, mc, pc, kc, ap)
                for jr in range(0, nc, NR):
                    var bpan = bp.unsafe_offset(jr * kc)
                    var w = min(NR, nc - jr)
                    for ir in range(0, mc, MR):
                        var apan = ap.unsafe_offset(ir * kc)
                        var h = min(MR, mc - ir)
                        var ct = c.unsafe_offset((ic + ir) * N + jc + jr)
                        if h == MR and w == NR:
                            micro_kernel[dt, NV](kc, apan, bpan, ct, N, first)
                        else:
                            micro_kernel[dt, NV](kc, apan, bpan, tmp, NR, True)
                            for ii in range(h):
                                for jj in range(w):
                                    var t = tmp[unsafe_offset=ii * NR + jj]
                                    if first:
                                        ct[unsafe_offset=ii * N + jj] = t
                                    else:
                                        ct[unsafe_offset=ii * N + jj] = (
                                            ct[unsafe_offset=ii * N + jj] + t
                                        )
    ap.unsafe_free()
    bp.unsafe_free()
    tmp.unsafe_free()


def matmul_best[dt: DType](
    a: Ptr[dt], b: Ptr[dt], c: Ptr[dt], M: Int, K: Int, N: Int, threads: Int
):
    comptime W = simd_width_of[dt]()
    comptime NR = 4 * W
    # Split the longer side of C into contiguous ranges, one per worker, aligned to
    # the register tile so no worker gets a ragged tile it does not need.
    var by_rows = M * NR >= N * MR
    var units = (M + MR - 1) // MR if by_rows else (N + NR - 1) // NR
    var nt = max(1, min(threads, units))
    if nt == 1:
        gemm_block[dt](a, b, c, M, K, N, 0, M, 0, N)
        return

    def work(t: Int) {a, b, c, M, K, N, nt, by_rows}:
        if by_rows:
            var r = split_range(M, nt, t, MR)
            gemm_block[dt](a, b, c, M, K, N, r[0], r[1], 0, N)
        else:
            var r = split_range(N, nt, t, NR)
            gemm_block[dt](a, b, c, M, K, N, 0, M, r[0], r[1])

    parallelize(work, nt, nt)
