"""Linear regression by plain minibatch SGD on the mean squared error, float32.

for each epoch, for each batch i:
    g = 2 (X[i] w + b - y[i]) / batch;  w -= lr X[i]^T g;  b -= lr sum(g)

naive: scalar loops over the batch and the features.
simd:  the article's kind: per sample a SIMD dot product over the features (the
       prediction), then a SIMD axpy of the sample into the gradient; one thread.
best:  the batches are transposed once into a feature-major copy padded to whole SIMD
       vectors, so a prediction is dim broadcast-FMAs over batch-wide vectors and each
       gradient component is a vector FMA chain plus one horizontal sum; w, b, the
       residuals and the transposed data stay in L1. The 500 steps are inherently
       sequential and tiny, so this flavor runs on one thread whatever `threads` says.
"""

from std.sys import simd_width_of
from common import Ptr, scratch

comptime F32 = DType.float32


def linreg_naive(
    X: Ptr[F32], Y: Ptr[F32], w: Ptr[F32], b0: Float32, lr: Float32,
    epochs: Int, nb: Int, batch: Int, dim: Int,
) -> Float32:
    """Trains w in place; returns b."""
    var b = b0
    var scale = Float32(2.0) / Float32(batch)
    var g = scratch[F32](batch)
    for _ in range(epochs):
        for i in range(nb):
            var xb = X.unsafe_offset(i * batch * dim)
            var yb = Y.unsafe_offset(i * batch)
            var gs: Float32 = 0
            for s in range(batch):
                var pred = b
                for d in range(dim):
                    pred += xb[unsafe_offset=s * dim + d] * w[unsafe_offset=d]
                var gv = (pred - yb[unsafe_offset=s]) * scale
                g[unsafe_offset=s] = gv
                gs += gv
            for d in range(dim):
                var acc: Float32 = 0
                for s in range(batch):
                    acc += g[unsafe_offset=s] * xb[unsafe_offset=s * dim + d]
                w[unsafe_offset=d] = w[unsafe_offset=d] - lr * acc
            b -= lr * gs
    g.unsafe_free()
    return b


def linreg_simd(
    X: Ptr[F32], Y: Ptr[F32], w: Ptr[F32], b0: Float32, lr: Float32,
    epochs: Int, nb: Int, batch: Int, dim: Int,
) -> Float32:
    comptime V = simd_width_of[F32]()
    var b = b0
    var scale = Float32(2.0) / Float32(batch)
    var gw = scratch[F32](dim)
    for _ in range(epochs):
        for i in range(nb):
            var xb = X.unsafe_offset(i * batch * dim)
            var yb = Y.unsafe_offset(i * batch)
            for d in range(dim):
                gw[unsafe_offset=d] = 0
            var gs: Float32 = 0
            for s in range(batch):
                var xs = xb.unsafe_offset(s * dim)
                # prediction: SIMD dot product over the features
                var accv = SIMD[F32, V](0)
                var d = 0
                while d + V <= dim:
                    accv += xs.unsafe_load[width=V](d) * w.unsafe_load[width=V](d)
                    d += V
                var pred = accv.reduce_add() + b
                while d < dim:
                    pred += xs[unsafe_offset=d] * w[unsafe_offset=d]
                    d += 1
                var gv = (pred - yb[unsafe_offset=s]) * scale
                gs += gv
                # gradient: SIMD axpy of the sample
                var gvv = SIMD[F32, V](gv)
                d = 0
                while d + V <= dim:
                    gw.unsafe_store(d, gw.unsafe_load[width=V](d) + gvv * xs.unsafe_load[width=V](d))
                    d += V
                while d < dim:
                    gw[unsafe_offset=d] = gw[unsafe_offset=d] + gv * xs[unsafe_offset=d]
                    d += 1
            for d in range(dim):
                w[unsafe_offset=d] = w[unsafe_offset=d] - lr * gw[unsafe_offset=d]
            b -= lr * gs
    gw.unsafe_free()
    return b


def linreg_best(
    X: Ptr[F32], Y: Ptr[F32], w: Ptr[F32], b0: Float32, lr: Float32,
    epochs: Int, nb: Int, batch: Int, dim: Int,
) -> Float32:
    comptime V = simd_width_of[F32]()
    var nv = (batch + V - 1) // V
    var bp = nv * V  # padded batch
    # XT[(i * dim + d) * bp + s] = X[i, s, d]; zero in the padding lanes
    var XT = scratch[F32](nb * dim * bp)
    var YP = scratch[F32](nb * bp)
    var mask = scratch[F32](bp)
    var g = scratch[F32](bp)
    for i in range(nb):
        var xi = X.unsafe_offset(i * batch * dim)
        var xt = XT.unsafe_offset(i * dim * bp)
        # whole vectors of samples with one strided (gather) load per feature
        var nfull = batch // V
        for d in range(dim):
            for v in range(nfull):
                xt.unsafe_store(
                    d * bp + v * V,
                    xi.unsafe_offset(v * V * dim + d).unsafe_strided_load[width=V](dim),
                )
            for s in range(nfull * V, bp):
                xt[unsafe_offset=d * bp + s] = xi[unsafe_offset=s * dim + d] if s < batch else 0
        for s in range(bp):
            YP[unsafe_offset=i * bp + s] = Y[unsafe_offset=i * batch + s] if s < batch else 0
    for s in range(bp):
        mask[unsafe_offset=s] = 1 if s < batch else 0
    var b = b0
    var scale = Float32(2.0) / Float32(batch)
    for _ in range(epochs):
        for i in range(nb):
            var xt = XT.unsafe_offset(i * dim * bp)
            var yp = YP.unsafe_offset(i * bp)
            var gsv = SIMD[F32, V](0)
            for v in range(nv):
                var acc = SIMD[F32, V](b)
                for d in range(dim):
                    acc = SIMD[F32, V](w[unsafe_offset=d]).fma(
                        xt.unsafe_load[width=V](d * bp + v * V), acc
                    )
                var gv = (acc - yp.unsafe_load[width=V](v * V)) * scale * mask.unsafe_load[
                    width=V
                ](v * V)
                g.unsafe_store(v * V, gv)
                gsv += gv
            for d in range(dim):
                var row = xt.unsafe_offset(d * bp)
                var a = row.unsafe_load[width=V](0) * g.unsafe_load[width=V](0)
                for v in range(1, nv):
                    a = row.unsafe_load[width=V](v * V).fma(g.unsafe_load[width=V](v * V), a)
                w[unsafe_offset=d] = w[unsafe_offset=d] - lr * a.reduce_add()
            b -= lr * gsv.reduce_add()
    XT.unsafe_free()
    YP.unsafe_free()
    mask.unsafe_free()
    g.unsafe_free()
    return b
