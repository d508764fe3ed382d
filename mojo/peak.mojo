"""Machine peak: an FMA-bound loop on SIMD registers, one copy per worker.

Each worker runs NACC independent chains acc = acc * m + a on full-width vectors
(enough chains to cover FMA latency times the number of FMA ports), with m and a
runtime values so nothing folds. FLOPs = 2 * W * NACC * iters per worker.
"""

from std.sys import simd_width_of
from std.collections import Array
from std.time import perf_counter_ns
from max.algorithm import parallelize

from common import Ptr, scratch

comptime NACC = 16


def fma_chains[dt: DType](iters: Int, m: Scalar[dt], a: Scalar[dt]) -> Scalar[dt]:
    comptime W = simd_width_of[dt]()
    var acc = Array[SIMD[dt, W], NACC](uninitialized=True)
    comptime for j in range(NACC):
        acc[j] = SIMD[dt, W](Scalar[dt](j) * a)
    var mv = SIMD[dt, W](m)
    var av = SIMD[dt, W](a)
    for _ in range(iters):
        comptime for j in range(NACC):
            acc[j] = acc[j].fma(mv, av)
    var s = SIMD[dt, W](0)
    comptime for j in range(NACC):
        s += acc[j]
    return s.reduce_add()


def peak_gflops[dt: DType](threads: Int, iters: Int, m: Float64, a: Float64) -> Float64:
    """GFLOP/s of `threads` workers each running fma_chains; best of up to 3 timed runs.

    `iters` only seeds a calibration: each run is sized to ~60 ms of wall time and no
    run starts that would take the call past ~0.9 s (at least one timed run), so it
    stays under a second even on a busy machine.
    """
    comptime W = simd_width_of[dt]()
    var nt = max(1, threads)
    var sink = scratch[dt](nt * 16)
    var mm = Scalar[dt](m)
    var aa = Scalar[dt](a)
    var probe = max(1000, iters // 40)
    var c0 = perf_counter_ns()
    sink[unsafe_offset=0] = fma_chains[dt](probe, mm, aa)
    var per_iter = Float64(max(1, Int(perf_counter_ns() - c0))) / Float64(probe)
    var n = max(1000, Int(60.0e6 / per_iter))

    def work(t: Int) {sink, n, mm, aa}:
        sink[unsafe_offset=t * 16] = fma_chains[dt](n, mm, aa)

    var best: Float64 = 0
    var start = perf_counter_ns()
    for rep in range(4):  # the first is a warm-up (frequency ramp, thread start)
        var t0 = perf_counter_ns()
        if nt == 1:
            work(0)
        else:
            parallelize(work, nt, nt)
        var t1 = perf_counter_ns()
        var flops = Float64(2 * W * NACC) * Float64(n) * Float64(nt)
        var g = flops / Float64(t1 - t0)
        if rep > 0 and g > best:
            best = g
        if rep > 0 and Float64(t1 - start) + Float64(t1 - t0) > 0.85e9:
            break  # another run would take the whole call past ~0.9 s
    sink.unsafe_free()
    return best
