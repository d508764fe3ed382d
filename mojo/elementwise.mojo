"""GELU (tanh approximation) and softmax cross-entropy: three flavors each.

gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  naive: scalar loop calling tanh.
  simd:  the same formula on SIMD vectors (std.math.tanh), one thread.
  best:  the same formula written as h + h tanh(z) with h = x/2 and z = x (c0 + c1 x^2)
         (one FMA less), four vectors per iteration, chunks split across workers.
         (x / (1 + exp(-2z)) was tried: the division makes it slower, and std.math.exp
         is ~250 ulp off in float64.) Special values match the reference:
         gelu(+inf) = +inf, gelu(-inf) = nan, nan -> nan.

xent: loss[i] = (m_i - l[i, label_i]) + log(sum_j exp(l[i,j] - m_i)), m_i = max_j l[i,j]
  (m_i - l[i, label_i] first: exact when the two are close, so no cancellation against
  log(sum) when the logits are large).
  naive: scalar two-pass loop per row.
  simd:  SIMD max pass and SIMD exp-sum pass per row, one thread.
  best:  the same with two independent accumulators per pass, rows split across
         workers. std.math.exp neither propagates nan nor returns inf, so special
         rows are caught explicitly: a nan in the row, or a row max of +inf or -inf,
         gives nan, exactly the cases where the NumPy reference gives nan.
Per-element work is independent of the split, so results are bitwise identical for any
thread count.
"""

from std.sys import simd_width_of
from std.math import exp, log, tanh, sqrt
from std.utils.numerics import inf, nan, isnan, isinf
from max.algorithm import parallelize

from common import Ptr, IPtr, split_range
from mathx import xexp, xlog

comptime SQRT_2_OVER_PI = 0.7978845608028654
comptime GELU_C = 0.044715


def gelu_naive[dt: DType](x: Ptr[dt], y: Ptr[dt], n: Int) where dt.is_floating_point():
    var c0 = Scalar[dt](SQRT_2_OVER_PI)
    var c1 = Scalar[dt](GELU_C)
    for i in range(n):
        var v = x[unsafe_offset=i]
        y[unsafe_offset=i] = Scalar[dt](0.5) * v * (1 + tanh(c0 * (v + c1 * v * v * v)))


def gelu_simd[dt: DType](x: Ptr[dt], y: Ptr[dt], n: Int) where dt.is_floating_point():
    comptime W = simd_width_of[dt]()
    var c0 = SIMD[dt, W](SQRT_2_OVER_PI)
    var c1 = SIMD[dt, W](GELU_C)
    var i = 0
    while i + W <= n:
        var v = x.unsafe_load[width=W](i)
        y.unsafe_store(i, 0.5 * v * (1 + tanh(c0 * (v + c1 * v * v * v))))
        i += W
    var s0 = Scalar[dt](SQRT_2_OVER_PI)
    var s1 = Scalar[dt](GELU_C)
    while i < n:
        var v = x[unsafe_offset=i]
        y[unsafe_offset=i] = Scalar[dt](0.5) * v * (1 + tanh(s0 * (v + s1 * v * v * v)))
        i += 1


@always_inline
def gelu_fast[dt: DType, W: Int](v: SIMD[dt, W]) -> SIMD[dt, W] where dt.is_floating_point():
    # z = sqrt(2/pi) (v + 0.044715 v^3) = v (c0 + c1 v^2); std.math.tanh is accurate
    # (< 2 ulp) in both precisions and maps +-inf to +-1, so gelu(-inf) = -inf * 0 = nan
    # exactly as in the reference.
    comptime c0 = SQRT_2_OVER_PI
    comptime c1 = SQRT_2_OVER_PI * GELU_C
    var z = v * (SIMD[dt, W](c0) + SIMD[dt, W](c1) * (v * v))
    var h = SIMD[dt, W](0.5) * v
    return h + h * tanh(z)


def gelu_range[dt: DType](x: Ptr[dt], y: Ptr[dt], lo: Int, hi: Int) where dt.is_floating_point():
    comptime W = simd_width_of[dt]()
    var i = lo
    while i + 4 * W <= hi:
        comptime for u in range(4):
            y.unsafe_store(i + u * W, gelu_fast[dt, W](x.unsafe_load[width=W](i + u * W)))
        i += 4 * W
    while i + W <= hi:
        y.unsafe_store(i, gelu_fast[dt, W](x.unsafe_load[width=W](i)))
        i += W
    while i < hi:
        y[unsafe_offset=i] = gelu_fast[dt, 1](x[unsafe_offset=i])
        i += 1


def gelu_best[dt: DType](x: Ptr[dt], y: Ptr[dt], n: Int, threads: Int) where dt.is_floating_point():
    comptime MIN_CHUNK = 32768
    var nt = max(1, min(threads, n // MIN_CHUNK))
    if nt == 1:
        gelu_range[dt](x, y, 0, n)
        return

    def work(t: Int) {x, y, n, nt}:
        var r = split_range(n, nt, t, 64)
        gelu_range[dt](x, y, r[0], r[1])

    parallelize(work, nt, nt)


# ---------------------------------------------------------------------------- xent


def xent_naive[dt: DType](lg: Ptr[dt], lab: IPtr, res: Ptr[dt], B: Int, C: Int) where dt.is_floating_point():
    for i in range(B):
        var row = lg.unsafe_offset(i * C)
        var m = row[unsafe_offset=0]
        for j in range(1, C):
            var v = row[unsafe_offset=j]
            if v > m or v != v:
                m = v
        if isnan(m) or isinf(m):
            res[unsafe_offset=i] = nan[dt]()
            continue
        var s: Scalar[dt] = 0
        for j in range(C):
            s += xexp[dt, 1](row[unsafe_offset=j] - m)
        res[unsafe_offset=i] = (m - row[unsafe_offset=Int(lab[unsafe_offset=i])]) + xlog[dt, 1](s)


def xent_simd[dt: DType](lg: Ptr[dt], lab: IPtr, res: Ptr[dt], B: Int, C: Int) where dt.is_floating_point():
    comptime W = simd_width_of[dt]()
    for i in range(B):
        var row = lg.unsafe_offset(i * C)
        var mv = SIMD[dt, W](-inf[dt]())
        var bad = SIMD[DType.bool, W](fill=False)
        var j = 0
        while j + W <= C:
            var v = row.unsafe_load[width=W](j)
            mv = max(mv, v)
            bad = bad | isnan(v)
            j += W
        var m = mv.reduce_max()
        var badrow = bad.reduce_or()
        while j < C:
            var v = row[unsafe_offset=j]
            m = max(m, v)
            badrow = badrow or isnan(v)
            j += 1
        if badrow or isinf(m):
            res[unsafe_offset=i] = nan[dt]()
            continue
        var sv = SIMD[dt, W](0)
        j = 0
        while j + W <= C:
            sv += xexp(row.unsafe_load[width=W](j) - m)
            j += W
        var s = sv.reduce_add()
        while j < C:
            s += xexp[dt, 1](row[unsafe_offset=j] - m)
            j += 1
        res[unsafe_offset=i] = (m - row[unsafe_offset=Int(lab[unsafe_offset=i])]) + xlog[dt, 1](s)


@always_inline
def xent_row[dt: DType](row: Ptr[dt], C: Int, label: Int) -> Scalar[dt] where dt.is_floating_point():
    comptime W = simd_width_of[dt]()
    var m0 = SIMD[dt, W](-inf[dt]())
    var m1 = SIMD[dt, W](-inf[dt]())
    var bad = SIMD[DType.bool, W](fill=False)
    var j = 0
    while j + 2 * W <= C:
        var v0 = row.unsafe_load[width=W](j)
        var v1 = row.unsafe_load[width=W](j + W)
        m0 = max(m0, v0)
        m1 = max(m1, v1)
        bad = bad | isnan(v0) | isnan(v1)
        j += 2 * W
    while j + W <= C:
        var v = row.unsafe_load[width=W](j)
        m0 = max(m0, v)
        bad = bad | isnan(v)
        j += W
    var m = max(m0, m1).reduce_max()
    var badrow = bad.reduce_or()
    while j < C:
        var v = row[unsafe_offset=j]
        m = max(m, v)
        badrow = badrow or isnan(v)
        j += 1
    # std.math.exp does not propagate nan and saturates at inf; the reference's
    # nan cases are exactly: a nan in the row, or a row max of +inf or -inf
    if badrow or isinf(m):
        return nan[dt]()
    var mv = SIMD[dt, W](m)
    var s0 = SIMD[dt, W](0)
    var s1 = SIMD[dt, W](0)
    j = 0
    while j + 2 * W <= C:
        s0 += xexp(row.unsafe_load[width=W](j) - mv)
        s1 += xexp(row.unsafe_load[width=W](j + W) - mv)
        j += 2 * W
    while j + W <= C:
        s0 += xexp(row.unsafe_load[width=W](j) - mv)
        j += W
    var s = (s0 + s1).reduce_add()
    while j < C:
        s += xexp[dt, 1](row[unsafe_offset=j] - m)
        j += 1
    return (m - row[unsafe_offset=label]) + xlog[dt, 1](s)


def xent_best[dt: DType](
    lg: Ptr[dt], lab: IPtr, res: Ptr[dt], B: Int, C: Int, threads: Int
) where dt.is_floating_point():
    var nt = max(1, min(threads, (B * C) // 65536))
    nt = min(nt, B)

    def work(t: Int) {lg, lab, res, B, C, nt}:
        var r = split_range(B, nt, t)
        for i in range(r[0], r[1]):
            res[unsafe_offset=i] = xent_row[dt](
                lg.unsafe_offset(i * C), C, Int(lab[unsafe_offset=i])
            )

    if nt == 1:
        work(0)
    else:
        parallelize(work, nt, nt)
