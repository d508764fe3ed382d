"""2-D convolution, NCHW float32, stride 1, "same" zero padding: three flavors.

naive: the direct seven-deep scalar loop with bounds checks.
simd:  the article's kind: for each output row, for each tap (c, di, dj), a vectorized
       axpy of the shifted input row into the output row. No tiling, one thread.
best:  a direct convolution written as an implicit GEMM (im2col done one output row
       at a time, in L1). For each output row (n, i) and each tap r = (c, di, dj) the
       shifted, zero-padded input row x[n, c, i+di-p, j+dj-p] (j = 0..W) is copied into
       row r of a 64-byte aligned scratch strip, so padding costs no branches and every
       load in the kernel is aligned. The filter bank is packed as [F/FB][C*KH*KW][FB].
       A register-blocked kernel computes FB filters x JB vectors of output pixels in zmm
       accumulators (per tap JB aligned loads, FB broadcasts, FB*JB FMAs) into an L1
       staging row, which is then copied to y; outputs of 64 MB or more (the benchmark's
       is 411 MB) are written with non-temporal stores, since writing y is what bounds
       this convolution (27 FMAs per output element). Rows (n, i) are split into contiguous ranges, one per
       worker; every output element is computed by the same operations whatever the
       split, so results are bitwise identical for any thread count.
"""

from std.sys import simd_width_of, get_defined_int, llvm_intrinsic
from std.collections import Array
from max.algorithm import parallelize

from common import Ptr, IPtr, scratch, split_range

comptime F32 = DType.float32
comptime FB = get_defined_int["CONV_FB", 4]()  # filters per register tile
comptime JBMAX = get_defined_int["CONV_JB", 6]()  # output vectors per register tile
comptime STREAM_BYTES = get_defined_int["CONV_STREAM_MB", 64]() * 1024 * 1024


def conv2d_naive(
    x: Ptr[F32], w: Ptr[F32], bias: Ptr[F32], y: Ptr[F32],
    N: Int, C: Int, H: Int, W: Int, F: Int, KS: Int,
):
    var p = (KS - 1) // 2
    for n in range(N):
        for f in range(F):
            for i in range(H):
                for j in range(W):
                    var s = bias[unsafe_offset=f]
                    for c in range(C):
                        for di in range(KS):
                            var ii = i + di - p
                            if ii < 0 or ii >= H:
                                continue
                            for dj in range(KS):
                                var jj = j + dj - p
                                if jj < 0 or jj >= W:
                                    continue
                                s += (
                                    x[unsafe_offset=((n * C + c) * H + ii) * W + jj]
                                    * w[unsafe_offset=((f * C + c) * KS + di) * KS + dj]
                                )
                    y[unsafe_offset=((n * F + f) * H + i) * W + j] = s


def conv2d_simd(
    x: Ptr[F32], w: Ptr[F32], bias: Ptr[F32], y: Ptr[F32],
    N: Int, C: Int, H: Int, W: Int, F: Int, KS: Int,
):
    comptime V = simd_width_of[F32]()
    var p = (KS - 1) // 2
    for n in range(N):
        for f in range(F):
            for i in range(H):
                var yrow = y.unsafe_offset(((n * F + f) * H + i) * W)
                var b = bias[unsafe_offset=f]
                for j in range(W):
                    yrow[unsafe_offset=j] = b
                for c in range(C):
                    for di in range(KS):
                        var ii = i + di - p
                        if ii < 0 or ii >= H:
                            continue
                        var xrow = x.unsafe_offset(((n * C + c) * H + ii) * W)
                        for dj in range(KS):
                            var wt = w[unsafe_offset=((f * C + c) * KS + di) * KS + dj]
                            var wv = SIMD[F32, V](wt)
                            # output j reads input j + dj - p; keep it inside the row
                            var lo = max(0, p - dj)
                            var hi = min(W, W + p - dj)
                            var sh = dj - p
                            var j = lo
                            while j + V <= hi:
                                yrow.unsafe_store(
                                    j,
                                    yrow.unsafe_load[width=V](j)
                                    + wv * xrow.unsafe_load[width=V](j + sh),
                                )
                                j += V
                            while j < hi:
                                yrow[unsafe_offset=j] = (
                                    yrow[unsafe_offset=j] + wt * xrow[unsafe_offset=j + sh]
                                )
                                j += 1


@always_inline
def conv_kernel[JB: Int](
    KK: Int, RS: Int, strip: Ptr[F32], wpb: Ptr[F32], j0: Int, stage: Ptr[F32],
    bias: Ptr[F32],
):
    """stage[f*RS + j0 + ...] = bias[f] + sum_r wpb[r*FB+f] * strip[r*RS + j0 + ...]."""
    comptime V = simd_width_of[F32]()
    var acc = Array[SIMD[F32, V], FB * JB](fill=0)
    for r in range(KK):
        var xo = strip.unsafe_offset(r * RS + j0)
        var wv = Array[SIMD[F32, V], FB](uninitialized=True)
        comptime for f in range(FB):
            wv[f] = SIMD[F32, V](wpb[unsafe_offset=r * FB + f])
        comptime for v in range(JB):
            var xv = xo.unsafe_load[width=V, alignment=64](v * V)
            comptime for f in range(FB):
                acc[f * JB + v] = wv[f].fma(xv, acc[f * JB + v])
    comptime for f in range(FB):
        var b = SIMD[F32, V](bias[unsafe_offset=f])
        comptime for v in range(JB):
            stage.unsafe_store[alignment=64](f * RS + j0 + v * V, acc[f * JB + v] + b)


@always_inline
def conv_row_segment(
    nv: Int, KK: Int, RS: Int, strip: Ptr[F32], wpb: Ptr[F32], j0: Int, stage: Ptr[F32],
    bias: Ptr[F32],
):
    """Dispatch a run of nv (< JBMAX) vectors to the kernel of that width."""
    comptime for jb in range(1, JBMAX):
        if nv == jb:
            conv_kernel[jb](KK, RS, strip, wpb, j0, stage, bias)


@always_inline
def flush_row[streaming: Bool](src: Ptr[F32], dst: Ptr[F32], n: Int):
    """dst[0:n] = src[0:n]; with `streaming`, the 64-byte aligned middle of dst is
    written with non-temporal stores (no read-for-ownership of output lines that will
    not be read again soon)."""
    comptime V = simd_width_of[F32]()
    var j = 0
    comptime if streaming:
        var head = min(n, ((64 - Int(dst) % 64) % 64) // 4)
        while j < head:
            dst[unsafe_offset=j] = src[unsafe_offset=j]
            j += 1
        while j + V <= n:
            dst.unsafe_store[alignment=64, non_temporal=True](j, src.unsafe_load[width=V](j))
            j += V
    else:
        while j + V <= n:
            dst.unsafe_store(j, src.unsafe_load[width=V](j))
            j += V
    while j < n:
        dst[unsafe_offset=j] = src[unsafe_offset=j]
        j += 1


def conv2d_best(
    x: Ptr[F32], w: Ptr[F32], bias: Ptr[F32], y: Ptr[F32],
    N: Int, C: Int, H: Int, W: Int, F: Int, KS: Int, threads: Int,
):
    comptime V = simd_width_of[F32]()
    var p = (KS - 1) // 2
    var KK = C * KS * KS
    var nfb = (F + FB - 1) // FB
    var HW = H * W
    # packed filters: wp[(fb * KK + r) * FB + f] = w[fb*FB + f, r], zero past F
    var wp = scratch[F32](nfb * KK * FB)
    for fb in range(nfb):
        for r in range(KK):
            for f in range(FB):
                var ff = fb * FB + f
                wp[unsafe_offset=(fb * KK + r) * FB + f] = (
                    w[unsafe_offset=ff * KK + r] if ff < F else 0
                )
    # padded bias so the last filter block can read FB entries
    var bp = scratch[F32](nfb * FB)
    for f in range(nfb * FB):
        bp[unsafe_offset=f] = bias[unsafe_offset=f] if f < F else 0
    var nvec = (W + V - 1) // V
    var RS = nvec * V  # strip row stride: a multiple of 16 floats, so rows stay aligned
    var rows = N * H
    var nt = max(1, min(threads, rows))
    # Outputs much larger than the caches are written with streaming stores.
    var streaming = N * F * HW * 4 >= STREAM_BYTES

    def work(t: Int) {x, y, wp, bp, N, C, H, W, F, KS, p, KK, nfb, HW, nvec, RS, rows, nt, streaming}:
        var r = split_range(rows, nt, t)
        # strip[r * RS + j] = x[n, c, i + di - p, j + dj - p] for tap r = (c, di, dj), 0 outside
        var strip = scratch[F32](KK * RS)
        var stage = scratch[F32](FB * RS)  # one register tile row block, flushed to y
        for q in range(KK * RS):
            strip[unsafe_offset=q] = 0
        for row in range(r[0], r[1]):
            var n = row // H
            var i = row % H
            for c in range(C):
                for di in range(KS):
                    var ii = i + di - p
                    for dj in range(KS):
                        var dst = strip.unsafe_offset(((c * KS + di) * KS + dj) * RS)
                        if ii < 0 or ii >= H:
                            for j in range(W):
                                dst[unsafe_offset=j] = 0
                            continue
                        var src = x.unsafe_offset(((n * C + c) * H + ii) * W + dj - p)
                        # output column j reads input column j + dj - p
                        var lo = min(max(0, p - dj), W)  # filters wider than the row
                        var hi = max(lo, min(W, W + p - dj))
                        for j in range(lo):
                            dst[unsafe_offset=j] = 0
                        var j = lo
                        while j + V <= hi:
                            dst.unsafe_store(j, src.unsafe_load[width=V](j))
                            j += V
                        while j < hi:
                            dst[unsafe_offset=j] = src[unsafe_offset=j]
                            j += 1
                        for jj in range(hi, W):
                            dst[unsafe_offset=jj] = 0
            for fb in range(nfb):
                var fvalid = min(FB, F - fb * FB)
                var wpb = wp.unsafe_offset(fb * KK * FB)
                var bb = bp.unsafe_offset(fb * FB)
                var v0 = 0
                while nvec - v0 >= JBMAX:
                    conv_kernel[JBMAX](KK, RS, strip, wpb, v0 * V, stage, bb)
                    v0 += JBMAX
                if nvec > v0:
                    conv_row_segment(nvec - v0, KK, RS, strip, wpb, v0 * V, stage, bb)
                var ybase = y.unsafe_offset((n * F + fb * FB) * HW + i * W)
                for f in range(fvalid):
                    if streaming:
                        flush_row[True](stage.unsafe_offset(f * RS), ybase.unsafe_offset(f * HW), W)
                    else:
                        flush_row[False](stage.unsafe_offset(f * RS), ybase.unsafe_offset(f * HW), W)
        if streaming:
            llvm_intrinsic["llvm.x86.sse.sfence", NoneType]()
        strip.unsafe_free()
        stage.unsafe_free()

    if nt == 1:
        work(0)
    else:
        parallelize(work, nt, nt)
    wp.unsafe_free()
    bp.unsafe_free()
