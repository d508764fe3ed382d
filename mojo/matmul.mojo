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

from std.sys import simd_width_of, get_defined_int, size_of
from std.sys.intrinsics import prefetch, PrefetchOptions
from std.collections import Array
from max.algorithm import parallelize

from common import Ptr, scratch, split_range

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
# Register tile MR x NR (NR = NV SIMD vectors). Loop nest (BLIS, with the roles of A and
# B swapped because C is row-major):
#   pc: K in KC slices          pack A[rows, pc:pc+KC] into MR-row panels (kc x MR each)
#   jc: N in NB blocks          pack B[pc:pc+KC, jc:jc+NB] into NR-wide panels (in L2)
#   ir: row panels of A          the A micro-panel (kc x MR, ~18 KB) stays in L1
#   jr: NR panels of B           B streams from L2, NV vector loads per k
#   micro-kernel: MR x NV accumulators; per k NV loads, MR broadcasts, MR*NV FMAs.


def mr_of[dt: DType]() -> Int:
    comptime if dt == DType.float32:
        return get_defined_int["MM_MR", 12]()
    else:
        return get_defined_int["MM_MR64", 12]()


def nv_of[dt: DType]() -> Int:
    comptime if dt == DType.float32:
        return get_defined_int["MM_NV", 2]()
    else:
        return get_defined_int["MM_NV64", 2]()


def kc_of[dt: DType]() -> Int:
    comptime if dt == DType.float32:
        return get_defined_int["MM_KC", 384]()
    else:
        return get_defined_int["MM_KC64", 192]()


def nb_of[dt: DType]() -> Int:
    return get_defined_int["MM_NB", 256]()


@always_inline
def micro_kernel[dt: DType, MR: Int, NV: Int](
    kc: Int, ap: Ptr[dt], bp: Ptr[dt], c: Ptr[dt], ldc: Int, first: Bool
):
    """C[0:MR, 0:NV*W] (+)= Apanel (kc x MR, k-major) @ Bpanel (kc x NV*W)."""
    comptime W = simd_width_of[dt]()
    comptime NR = NV * W
    comptime UNROLL = get_defined_int["MM_UNROLL", 1]()
    comptime if get_defined_int["MM_PFC", 1]() == 1:
        comptime for i in range(MR):
            comptime for v in range(0, NR, 64 // size_of[Scalar[dt]]()):
                prefetch[PrefetchOptions().for_write().high_locality()](c.unsafe_offset(i * ldc + v))
    var acc = Array[SIMD[dt, W], MR * NV](fill=0)
    var k = 0
    comptime PFB = get_defined_int["MM_PFB", 0]()
    while k + UNROLL <= kc:
        comptime if PFB > 0:
            comptime for v in range(0, NR, 64 // size_of[Scalar[dt]]()):
                prefetch(bp.unsafe_offset((k + PFB) * NR + v))
        comptime for u in range(UNROLL):
            var bv = Array[SIMD[dt, W], NV](uninitialized=True)
            comptime for v in range(NV):
                bv[v] = bp.unsafe_load[width=W]((k + u) * NR + v * W)
            comptime for i in range(MR):
                var av = SIMD[dt, W](ap[unsafe_offset=(k + u) * MR + i])
                comptime for v in range(NV):
                    acc[i * NV + v] = av.fma(bv[v], acc[i * NV + v])
        k += UNROLL
    while k < kc:
        var bv = Array[SIMD[dt, W], NV](uninitialized=True)
        comptime for v in range(NV):
            bv[v] = bp.unsafe_load[width=W](k * NR + v * W)
        comptime for i in range(MR):
            var av = SIMD[dt, W](ap[unsafe_offset=k * MR + i])
            comptime for v in range(NV):
                acc[i * NV + v] = av.fma(bv[v], acc[i * NV + v])
        k += 1
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
    b: Ptr[dt], N: Int, pc: Int, kc: Int, jc: Int, nb: Int, bp: Ptr[dt]
):
    """bp[(jp * kc + k) * NR + jj] = B[pc + k, jc + jp * NR + jj], zero past column nb."""
    comptime W = simd_width_of[dt]()
    var npan = (nb + NR - 1) // NR
    for jp in range(npan):
        var j0 = jc + jp * NR
        var w = min(NR, jc + nb - j0)
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


def pack_a[dt: DType, MR: Int](
    a: Ptr[dt], K: Int, i0: Int, mc: Int, pc: Int, kc: Int, ap: Ptr[dt]
):
    """ap[(ip * kc + k) * MR + ii] = A[i0 + ip * MR + ii, pc + k], zero past row mc."""
    var npan = (mc + MR - 1) // MR
    for ip in range(npan):
        var r0 = i0 + ip * MR
        var h = min(MR, i0 + mc - r0)
        var dst = ap.unsafe_offset(ip * kc * MR)
        if h == MR:
            var s0 = a.unsafe_offset(r0 * K + pc)
            for k in range(kc):
                comptime for ii in range(MR):
                    dst[unsafe_offset=k * MR + ii] = s0[unsafe_offset=ii * K + k]
        else:
            for ii in range(MR):
                if ii < h:
                    var src = a.unsafe_offset((r0 + ii) * K + pc)
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
    comptime MR = mr_of[dt]()
    comptime NV = nv_of[dt]()
    comptime NR = NV * W
    comptime KC = kc_of[dt]()
    comptime NB = nb_of[dt]()
    if m1 <= m0 or n1 <= n0:
        return
    var mp = ((m1 - m0 + MR - 1) // MR) * MR
    var ap = scratch[dt](mp * KC)
    var bp = scratch[dt](KC * (((NB + NR - 1) // NR) * NR))
    var tmp = scratch[dt](MR * NR)
    for pc in range(0, K, KC):
        var kc = min(KC, K - pc)
        var first = pc == 0
        pack_a[dt, MR](a, K, m0, m1 - m0, pc, kc, ap)
        for jc in range(n0, n1, NB):
            var nb = min(NB, n1 - jc)
            pack_b[dt, NR](b, N, pc, kc, jc, nb, bp)
            for ir in range(0, m1 - m0, MR):
                var apan = ap.unsafe_offset(ir * kc)
                var h = min(MR, m1 - m0 - ir)
                for jr in range(0, nb, NR):
                    var bpan = bp.unsafe_offset(jr * kc)
                    var w = min(NR, nb - jr)
                    var ct = c.unsafe_offset((m0 + ir) * N + jc + jr)
                    if h == MR and w == NR:
                        micro_kernel[dt, MR, NV](kc, apan, bpan, ct, N, first)
                    else:
                        micro_kernel[dt, MR, NV](kc, apan, bpan, tmp, NR, True)
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
    comptime MR = mr_of[dt]()
    comptime NR = nv_of[dt]() * W
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
