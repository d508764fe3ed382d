"""2-D convolution, NCHW float32, stride 1, "same" zero padding: three flavors.

naive: the direct seven-deep scalar loop with bounds checks.
simd:  the article's kind: for each output row, for each tap (c, di, dj), a vectorized
       axpy of the shifted input row into the output row. No tiling, one thread.
best:  a direct convolution written as an implicit GEMM. For each output row (n, i) the
       KH input rows of every channel are copied into a zero-padded scratch strip (so the
       padding costs no branches), the filter bank is packed as [F/4][C*KH*KW][4], and a
       register-blocked kernel computes 4 filters x JB vectors (JB <= 7, up to 112 output
       pixels) with 28 zmm accumulators: per tap JB unaligned loads of the strip, 4
       broadcasts, 4*JB FMAs. Rows (n, i) are split into contiguous ranges, one per
       worker; every output element is computed by the same operations whatever the
       split, so results are bitwise identical for any thread count.
"""

from std.sys import simd_width_of
from std.collections import Array
from max.algorithm import parallelize

from common import Ptr, IPtr, scratch, split_range

comptime F32 = DType.float32
comptime FB = 4
comptime JBMAX = 7


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
    KK: Int, off: IPtr, strip: Ptr[F32], wpb: Ptr[F32], j0: Int,
    ybase: Ptr[F32], HW: Int, W: Int, fvalid: Int, bias: Ptr[F32],
):
    """ybase[f*HW + j0 + ...] = bias[f] + sum_r wpb[r*FB+f] * strip[off[r] + j0 + ...]."""
    comptime V = simd_width_of[F32]()
    var acc = Array[SIMD[F32, V], FB * JB](fill=0)
    for r in range(KK):
        var xo = strip.unsafe_offset(Int(off[unsafe_offset=r]) + j0)
        var xv = Array[SIMD[F32, V], JB](uninitialized=True)
        comptime for v in range(JB):
            xv[v] = xo.unsafe_load[width=V](v * V)
        comptime for f in range(FB):
            var wv = SIMD[F32, V](wpb[unsafe_offset=r * FB + f])
            comptime for v in range(JB):
                acc[f * JB + v] = wv.fma(xv[v], acc[f * JB + v])
    comptime for f in range(FB):
        if f < fvalid:
            var yrow = ybase.unsafe_offset(f * HW)
            var b = SIMD[F32, V](bias[unsafe_offset=f])
            comptime for v in range(JB):
                var col = j0 + v * V
                var val = acc[f * JB + v] + b
                if col + V <= W:
                    yrow.unsafe_store(col, val)
                else:
                    for lane in range(W - col):
                        yrow[unsafe_offset=col + lane] = val[lane]


@always_inline
def conv_row_segment(
    nv: Int, KK: Int, off: IPtr, strip: Ptr[F32], wpb: Ptr[F32], j0: Int,
    ybase: Ptr[F32], HW: Int, W: Int, fvalid: Int, bias: Ptr[F32],
):
    """Dispatch a run of nv (< JBMAX) vectors to the kernel of that width."""
    if nv == 1:
        conv_kernel[1](KK, off, strip, wpb, j0, ybase, HW, W, fvalid, bias)
    elif nv == 2:
        conv_kernel[2](KK, off, strip, wpb, j0, ybase, HW, W, fvalid, bias)
    elif nv == 3:
        conv_kernel[3](KK, off, strip, wpb, j0, ybase, HW, W, fvalid, bias)
    elif nv == 4:
        conv_kernel[4](KK, off, strip, wpb, j0, ybase, HW, W, fvalid, bias)
    elif nv == 5:
        conv_kernel[5](KK, off, strip, wpb, j0, ybase, HW, W, fvalid, bias)
    elif nv == 6:
        conv_kernel[6](KK, off, strip, wpb, j0, ybase, HW, W, fvalid, bias)


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
    var WP = nvec * V + KS - 1 + V  # strip row: index jj holds input column jj - p
    var off = scratch[DType.int64](KK)
    for c in range(C):
        for di in range(KS):
            for dj in range(KS):
                off[unsafe_offset=(c * KS + di) * KS + dj] = Int64((c * KS + di) * WP + dj)
    var rows = N * H
    var nt = max(1, min(threads, rows))

    def work(t: Int) {x, y, wp, bp, off, N, C, H, W, F, KS, p, KK, nfb, HW, nvec, WP, rows, nt}:
        var r = split_range(rows, nt, t)
        var strip = scratch[F32](C * KS * WP)
        for q in range(C * KS * WP):
            strip[unsafe_offset=q] = 0
        for row in range(r[0], r[1]):
            var n = row // H
            var i = row % H
            for c in range(C):
                for di in range(KS):
                    var ii = i + di - p
                    var dst = strip.unsafe_offset((c * KS + di) * WP + p)
                    if ii >= 0 and ii < H:
                        var src = x.unsafe_offset(((n * C + c) * H + ii) * W)
                        var j = 0
                        while j + V <= W:
                            dst.unsafe_store(j, src.unsafe_load[width=V](j))
                            j += V
                        while j < W:
                            dst[unsafe_offset=j] = src[unsafe_offset=j]
                            j += 1
                    else:
                        for j in range(W):
                            dst[unsafe_offset=j] = 0
            for fb in range(nfb):
                var fvalid = min(FB, F - fb * FB)
                var wpb = wp.unsafe_offset(fb * KK * FB)
                var ybase = y.unsafe_offset((n * F + fb * FB) * HW + i * W)
                var bb = bp.unsafe_offset(fb * FB)
                var v0 = 0
                while nvec - v0 >= JBMAX:
                    conv_kernel[JBMAX](KK, off, strip, wpb, v0 * V, ybase, HW, W, fvalid, bb)
                    v0 += JBMAX
                if nvec > v0:
                    conv_row_segment(nvec - v0, KK, off, strip, wpb, v0 * V, ybase, HW, W, fvalid, bb)
        strip.unsafe_free()

    if nt == 1:
        work(0)
    else:
        parallelize(work, nt, nt)
    wp.unsafe_free()
    bp.unsafe_free()
    off.unsafe_free()
