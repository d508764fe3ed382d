"""Linear regression by plain minibatch SGD on the mean squared error, float32 or float64.

for each epoch, for each batch i:
    r = X[i] w + b - y[i];  loss += sum(r^2);  g = 2 r / batch;  w -= lr X[i]^T g;  b -= lr sum(g)
and after each epoch loss[epoch] = loss / (batches * batch) (the residuals of the forward
pass each step uses, as the article's loop prints them).

naive: scalar loops over the batch and the features.
simd:  the article's kind: per sample a SIMD dot product over the features (the
       prediction), then a SIMD axpy of the sample into the gradient; one thread.
best:  the batches are transposed once into a feature-major copy padded to whole SIMD
       vectors, so a prediction is dim broadcast-FMAs over batch-wide vectors and each
       gradient component is a vector FMA chain plus one horizontal sum; w, b, the
       residuals and the transposed data stay in L1. The 500 steps are inherently
       sequential and tiny, so this flavor runs on one thread whatever `threads` says.
Each trains w in place, writes the per-epoch losses to `loss` and returns b.
"""

from std.sys import simd_width_of
from common import Ptr, scratch


def linreg_naive[dt: DType](
    X: Ptr[dt], Y: Ptr[dt], w: Ptr[dt], b0: Scalar[dt], lr: Scalar[dt],
    epochs: Int, nb: Int, batch: Int, dim: Int, loss: Ptr[dt],
) -> Scalar[dt]:
    var b = b0
    var scale = Scalar[dt](2.0) / Scalar[dt](batch)
    var g = scratch[dt](batch)
    for e in range(epochs):
        var total: Scalar[dt] = 0
        for i in range(nb):
            var xb = X.unsafe_offset(i * batch * dim)
            var yb = Y.unsafe_offset(i * batch)
            var gs: Scalar[dt] = 0
            var sq: Scalar[dt] = 0
            for s in range(batch):
                var pred = b
                for d in range(dim):
                    pred += xb[unsafe_offset=s * dim + d] * w[unsafe_offset=d]
                var r = pred - yb[unsafe_offset=s]
                sq += r * r
                var gv = r * scale
                g[unsafe_offset=s] = gv
                gs += gv
            for d in range(dim):
                var acc: Scalar[dt] = 0
                for s in range(batch):
                    acc += g[unsafe_offset=s] * xb[unsafe_offset=s * dim + d]
                w[unsafe_offset=d] = w[unsafe_offset=d] - lr * acc
            b -= lr * gs
            total += sq
        loss[unsafe_offset=e] = total / Scalar[dt](nb * batch)
    g.unsafe_free()
    return b


def linreg_simd[dt: DType](
    X: Ptr[dt], Y: Ptr[dt], w: Ptr[dt], b0: Scalar[dt], lr: Scalar[dt],
    epochs: Int, nb: Int, batch: Int, dim: Int, loss: Ptr[dt],
) -> Scalar[dt]:
    comptime V = simd_width_of[dt]()
    var b = b0
    var scale = Scalar[dt](2.0) / Scalar[dt](batch)
    var gw = scratch[dt](dim)
    for e in range(epochs):
        var total: Scalar[dt] = 0
        for i in range(nb):
            var xb = X.unsafe_offset(i * batch * dim)
            var yb = Y.unsafe_offset(i * batch)
            for d in range(dim):
                gw[unsafe_offset=d] = 0
            var gs: Scalar[dt] = 0
            var sq: Scalar[dt] = 0
            for s in range(batch):
                var xs = xb.unsafe_offset(s * dim)
                # prediction: SIMD dot product over the features
                var accv = SIMD[dt, V](0)
                var d = 0
                while d + V <= dim:
                    accv += xs.unsafe_load[width=V](d) * w.unsafe_load[width=V](d)
                    d += V
                var pred = accv.reduce_add() + b
                while d < dim:
                    pred += xs[unsafe_offset=d] * w[unsafe_offset=d]
                    d += 1
                var r = pred - yb[unsafe_offset=s]
                sq += r * r
                var gv = r * scale
                gs += gv
                # gradient: SIMD axpy of the sample
                var gvv = SIMD[dt, V](gv)
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
            total += sq
        loss[unsafe_offset=e] = total / Scalar[dt](nb * batch)
    gw.unsafe_free()
    return b


def linreg_best[dt: DType](
    X: Ptr[dt], Y: Ptr[dt], w: Ptr[dt], b0: Scalar[dt], lr: Scalar[dt],
    epochs: Int, nb: Int, batch: Int, dim: Int, loss: Ptr[dt],
) -> Scalar[dt]:
    comptime V = simd_width_of[dt]()
    var nv = (batch + V - 1) // V
    var bp = nv * V  # padded batch
    # XT[(i * dim + d) * bp + s] = X[i, s, d]; zero in the padding lanes
    var XT = scratch[dt](nb * dim * bp)
    var YP = scratch[dt](nb * bp)
    var mask = scratch[dt](bp)
    var g = scratch[dt](bp)
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
    var scale = Scalar[dt](2.0) / Scalar[dt](batch)
    for e in range(epochs):
        var total: Scalar[dt] = 0
        for i in range(nb):
            var xt = XT.unsafe_offset(i * dim * bp)
            var yp = YP.unsafe_offset(i * bp)
            var gsv = SIMD[dt, V](0)
            var sqv = SIMD[dt, V](0)
            for v in range(nv):
                var acc = SIMD[dt, V](b)
                for d in range(dim):
                    acc = SIMD[dt, V](w[unsafe_offset=d]).fma(
                        xt.unsafe_load[width=V](d * bp + v * V), acc
                    )
                # residuals, zero in the padding lanes
                var r = (acc - yp.unsafe_load[width=V](v * V)) * mask.unsafe_load[width=V](v * V)
                var gv = r * scale
                g.unsafe_store(v * V, gv)
                gsv += gv
                sqv = r.fma(r, sqv)
            for d in range(dim):
                var row = xt.unsafe_offset(d * bp)
                var a = row.unsafe_load[width=V](0) * g.unsafe_load[width=V](0)
                for v in range(1, nv):
                    a = row.unsafe_load[width=V](v * V).fma(g.unsafe_load[width=V](v * V), a)
                w[unsafe_offset=d] = w[unsafe_offset=d] - lr * a.reduce_add()
            b -= lr * gsv.reduce_add()
            total += sqv.reduce_add()
        loss[unsafe_offset=e] = total / Scalar[dt](nb * batch)
    XT.unsafe_free()
    YP.unsafe_free()
    mask.unsafe_free()
    g.unsafe_free()
    return b
