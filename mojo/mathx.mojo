"""exp and log with the accuracy the float64 checks need.

std.math.exp and std.math.log are accurate in float32 (< 1 ulp here) but a few hundred
ulp off in float64, which fails the xent bound eps (4C + 16) for small C. `xexp` and
`xlog` keep std.math for float32 and use the functions below for float64.
exp_f64: Cody-Waite reduction x = n ln2 + r with |r| <= ln2/2, a degree-13 Taylor
polynomial (truncation < 5e-18 relative), and 2^n applied as two normal powers of two so
subnormal results come out right. exp(nan) = nan, exp(+inf) = inf, exp(-inf) = 0.
log_f64: x = 2^e f with f in [sqrt(1/2), sqrt(2)), log f = 2 atanh(s), s = (f-1)/(f+1),
|s| <= 0.172, odd series to s^25. log(0) = -inf, log(x<0) = nan, log(inf) = inf.
"""

from std.math import exp, log, floor
from std.memory import bitcast
from std.utils.numerics import inf

comptime F64 = DType.float64


@always_inline
def _pow2[W: Int](k: SIMD[DType.int64, W]) -> SIMD[F64, W]:
    """2^k for k in the normal exponent range [-1022, 1023]."""
    return bitcast[F64, W]((k + 1023) << 52)


@always_inline
def exp_f64[W: Int](x: SIMD[F64, W]) -> SIMD[F64, W]:
    comptime LOG2E = 1.4426950408889634
    comptime LN2_HI = 6.93147180369123816490e-01
    comptime LN2_LO = 1.90821492927058770002e-10
    comptime HI = 709.782712893384
    comptime LO = -745.1332191019412
    var xc = min(max(x, SIMD[F64, W](LO)), SIMD[F64, W](HI))
    var n = floor(xc * LOG2E + 0.5)
    var r = (xc - n * LN2_HI) - n * LN2_LO
    var p = SIMD[F64, W](1.0 / 6227020800.0)  # 1/13!
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    var ni = n.cast[DType.int64]()
    var n1 = ni >> 1
    var n2 = ni - n1
    var res = p * _pow2[W](n1) * _pow2[W](n2)
    res = x.gt(SIMD[F64, W](HI)).select(SIMD[F64, W](inf[F64]()), res)
    res = x.lt(SIMD[F64, W](LO)).select(SIMD[F64, W](0), res)
    return x.ne(x).select(x, res)


@always_inline
def xexp[dt: DType, W: Int](x: SIMD[dt, W]) -> SIMD[dt, W] where dt.is_floating_point():
    comptime if dt == DType.float64:
        return rebind[SIMD[dt, W]](exp_f64[W](rebind[SIMD[F64, W]](x)))
    else:
        return exp(x)


@always_inline
def log_f64[W: Int](x: SIMD[F64, W]) -> SIMD[F64, W]:
    comptime LN2_HI = 6.93147180369123816490e-01
    comptime LN2_LO = 1.90821492927058770002e-10
    comptime TINY = 2.2250738585072014e-308
    comptime SQRT2 = 1.4142135623730951
    var sub = x.lt(SIMD[F64, W](TINY))
    var xs = sub.select(x * 18014398509481984.0, x)  # 2^54 lifts subnormals
    var bits = bitcast[DType.int64, W](xs)
    var e = ((bits >> 52) & 0x7FF) - 1023
    var f = bitcast[F64, W]((bits & 0xFFFFFFFFFFFFF) | (1023 << 52))  # [1, 2)
    var big = f.gt(SIMD[F64, W](SQRT2))
    f = big.select(f * 0.5, f)
    e = big.select(e + 1, e)
    var ef = e.cast[F64]() - sub.select(SIMD[F64, W](54.0), SIMD[F64, W](0.0))
    var t = (f - 1.0) / (f + 1.0)
    var t2 = t * t
    var p = SIMD[F64, W](1.0 / 25.0)
    p = p * t2 + 1.0 / 23.0
    p = p * t2 + 1.0 / 21.0
    p = p * t2 + 1.0 / 19.0
    p = p * t2 + 1.0 / 17.0
    p = p * t2 + 1.0 / 15.0
    p = p * t2 + 1.0 / 13.0
    p = p * t2 + 1.0 / 11.0
    p = p * t2 + 1.0 / 9.0
    p = p * t2 + 1.0 / 7.0
    p = p * t2 + 1.0 / 5.0
    p = p * t2 + 1.0 / 3.0
    var logf = 2.0 * t + 2.0 * t * t2 * p
    var res = ef * LN2_HI + (logf + ef * LN2_LO)
    res = x.eq(SIMD[F64, W](0)).select(SIMD[F64, W](-inf[F64]()), res)
    res = x.eq(SIMD[F64, W](inf[F64]())).select(x, res)
    res = x.lt(SIMD[F64, W](0)).select(x - x + (x - x) / (x - x), res)  # nan
    return x.ne(x).select(x, res)


@always_inline
def xlog[dt: DType, W: Int](x: SIMD[dt, W]) -> SIMD[dt, W] where dt.is_floating_point():
    comptime if dt == DType.float64:
        return rebind[SIMD[dt, W]](log_f64[W](rebind[SIMD[F64, W]](x)))
    else:
        return log(x)
