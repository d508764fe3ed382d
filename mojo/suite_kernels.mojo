"""The benchmark suite's Mojo kernels as a CPython extension module.

Build: mojo build mojo/suite_kernels.mojo --emit shared-lib -o suite_kernels.so
Every entry point checks its arguments (type, dtype, rank, contiguity, emptiness,
shapes, label range) while holding the GIL, allocates its output with numpy.empty,
then releases the GIL and runs the kernel on the arrays' memory (zero-copy).
Errors are raised with messages prefixed "TypeError: " / "ValueError: "
(suite/flavors/mojo.py re-raises them as those classes).
"""

from std.python import Python, PythonObject
from std.python.bindings import PythonModuleBuilder
from std.os import abort
from std.sys import simd_width_of, get_defined_string
from std.sys.info import CompilationTarget, num_logical_cores

from common import (
    Ptr, IPtr, addr_ptr, check_array, float_dtype, int_arg, float_arg, new_array,
    shape_str, array_address,
)
from matmul import matmul_naive, matmul_simd, matmul_best
from conv2d import conv2d_naive, conv2d_simd, conv2d_best
from elementwise import (
    gelu_naive, gelu_simd, gelu_best, xent_naive, xent_simd, xent_best,
)
from linreg import linreg_naive, linreg_simd, linreg_best
from peak import peak_gflops
from hybrid import py_linreg_forward, py_noop

comptime NAIVE = 0


@fieldwise_init
struct OutArg(Copyable, Movable):
    """An output array this module allocated itself (C-contiguous, writeable)."""

    var address: Int


comptime SIMD_ = 1
comptime BEST = 2
comptime F32 = DType.float32
comptime F64 = DType.float64


# ---------------------------------------------------------------------------- matmul


def _matmul_run[dt: DType, flavor: Int](
    a: Int, b: Int, c: Int, M: Int, K: Int, N: Int, threads: Int
):
    var ap = addr_ptr[dt](a)
    var bp = addr_ptr[dt](b)
    var cp = addr_ptr[dt](c)
    comptime if flavor == NAIVE:
        matmul_naive[dt](ap, bp, cp, M, K, N)
    elif flavor == SIMD_:
        matmul_simd[dt](ap, bp, cp, M, K, N)
    else:
        matmul_best[dt](ap, bp, cp, M, K, N, threads)


def py_matmul[flavor: Int](
    a: PythonObject, b: PythonObject, threads: PythonObject
) raises -> PythonObject:
    var nt = int_arg(threads, "threads", 1)
    var dt = float_dtype(a, "a")
    var db = float_dtype(b, "b")
    if db != dt:
        raise Error(
            "TypeError: a and b must have the same dtype, got a ", dt, " and b ", db
        )
    var aa = check_array(a, "a", 2, dt)
    var bb = check_array(b, "b", 2, dt)
    var M = aa.dim(0)
    var K = aa.dim(1)
    var N = bb.dim(1)
    if bb.dim(0) != K:
        raise Error(
            "ValueError: matmul shapes do not match: a is ", shape_str(aa.shape),
            " and b is ", shape_str(bb.shape), "; need b.shape[0] == a.shape[1]",
        )
    var out = new_array(Python.tuple(M, N), dt)
    var cc = OutArg(array_address(out))
    ref cpy = Python().cpython()
    var st = cpy.PyEval_SaveThread()
    if dt == "float32":
        _matmul_run[F32, flavor](aa.address, bb.address, cc.address, M, K, N, nt)
    else:
        _matmul_run[F64, flavor](aa.address, bb.address, cc.address, M, K, N, nt)
    cpy.PyEval_RestoreThread(st)
    return out


# ---------------------------------------------------------------------------- conv2d


def py_conv2d[flavor: Int](
    x: PythonObject, w: PythonObject, bias: PythonObject, threads: PythonObject
) raises -> PythonObject:
    var nt = int_arg(threads, "threads", 1)
    var xa = check_array(x, "x", 4, "float32")
    var wa = check_array(w, "w", 4, "float32")
    var ba = check_array(bias, "bias", 1, "float32")
    var N = xa.dim(0)
    var C = xa.dim(1)
    var H = xa.dim(2)
    var W = xa.dim(3)
    var F = wa.dim(0)
    var KS = wa.dim(2)
    if wa.dim(1) != C:
        raise Error(
            "ValueError: conv2d channels do not match: x is ", shape_str(xa.shape),
            " (N, C, H, W) and w is ", shape_str(wa.shape),
            " (F, C, KH, KW); need w.shape[1] == x.shape[1]",
        )
    if wa.dim(3) != KS or KS % 2 == 0:
        raise Error(
            "ValueError: conv2d needs a square filter of odd size (KH == KW, odd), got w ",
            shape_str(wa.shape),
        )
    if ba.dim(0) != F:
        raise Error(
            "ValueError: bias must have shape (F,) = (", F, ",) for w ",
            shape_str(wa.shape), ", got ", shape_str(ba.shape),
        )
    var out = new_array(Python.tuple(N, F, H, W), "float32")
    var ya = OutArg(array_address(out))
    var xp = addr_ptr[F32](xa.address)
    var wp = addr_ptr[F32](wa.address)
    var bp = addr_ptr[F32](ba.address)
    var yp = addr_ptr[F32](ya.address)
    ref cpy = Python().cpython()
    var st = cpy.PyEval_SaveThread()
    comptime if flavor == NAIVE:
        conv2d_naive(xp, wp, bp, yp, N, C, H, W, F, KS)
    elif flavor == SIMD_:
        conv2d_simd(xp, wp, bp, yp, N, C, H, W, F, KS)
    else:
        conv2d_best(xp, wp, bp, yp, N, C, H, W, F, KS, nt)
    cpy.PyEval_RestoreThread(st)
    return out


# ---------------------------------------------------------------------------- gelu


def _gelu_run[dt: DType, flavor: Int](x: Int, y: Int, n: Int, threads: Int) where dt.is_floating_point():
    comptime if flavor == NAIVE:
        gelu_naive[dt](addr_ptr[dt](x), addr_ptr[dt](y), n)
    elif flavor == SIMD_:
        gelu_simd[dt](addr_ptr[dt](x), addr_ptr[dt](y), n)
    else:
        gelu_best[dt](addr_ptr[dt](x), addr_ptr[dt](y), n, threads)


def py_gelu[flavor: Int](x: PythonObject, threads: PythonObject) raises -> PythonObject:
    var nt = int_arg(threads, "threads", 1)
    var dt = float_dtype(x, "x")
    var xa = check_array(x, "x", 1, dt)
    var n = xa.dim(0)
    var out = new_array(Python.tuple(n), dt)
    var ya = OutArg(array_address(out))
    ref cpy = Python().cpython()
    var st = cpy.PyEval_SaveThread()
    if dt == "float32":
        _gelu_run[F32, flavor](xa.address, ya.address, n, nt)
    else:
        _gelu_run[F64, flavor](xa.address, ya.address, n, nt)
    cpy.PyEval_RestoreThread(st)
    return out


# ---------------------------------------------------------------------------- xent


def _xent_run[dt: DType, flavor: Int](
    lg: Int, lab: Int, res: Int, B: Int, C: Int, threads: Int
) where dt.is_floating_point():
    var lp = addr_ptr[dt](lg)
    var ip = addr_ptr[DType.int64](lab)
    var op = addr_ptr[dt](res)
    comptime if flavor == NAIVE:
        xent_naive[dt](lp, ip, op, B, C)
    elif flavor == SIMD_:
        xent_simd[dt](lp, ip, op, B, C)
    else:
        xent_best[dt](lp, ip, op, B, C, threads)


def py_xent[flavor: Int](
    logits: PythonObject, labels: PythonObject, threads: PythonObject
) raises -> PythonObject:
    var nt = int_arg(threads, "threads", 1)
    var dt = float_dtype(logits, "logits")
    var la = check_array(logits, "logits", 2, dt)
    var ia = check_array(labels, "labels", 1, "int64")
    var B = la.dim(0)
    var C = la.dim(1)
    if ia.dim(0) != B:
        raise Error(
            "ValueError: labels must have shape (B,) = (", B, ",) for logits ",
            shape_str(la.shape), ", got ", shape_str(ia.shape),
        )
    var ip = addr_ptr[DType.int64](ia.address)
    for i in range(B):
        var v = Int(ip[unsafe_offset=i])
        if v < 0 or v >= C:
            raise Error(
                "ValueError: labels must be in [0, ", C, "), got labels[", i, "] = ", v
            )
    var out = new_array(Python.tuple(B), dt)
    var oa = OutArg(array_address(out))
    ref cpy = Python().cpython()
    var st = cpy.PyEval_SaveThread()
    if dt == "float32":
        _xent_run[F32, flavor](la.address, ia.address, oa.address, B, C, nt)
    else:
        _xent_run[F64, flavor](la.address, ia.address, oa.address, B, C, nt)
    cpy.PyEval_RestoreThread(st)
    return out


# ---------------------------------------------------------------------------- linreg


def _linreg_run[dt: DType, flavor: Int](
    x: Int, y: Int, w0: Int, res: Int, b0: Float64, lr: Float64,
    ne: Int, nb: Int, batch: Int, dim: Int,
):
    """res = [w (dim), b, loss per epoch (ne)]: trains a copy of w0 in res."""
    var op = addr_ptr[dt](res)
    var w0p = addr_ptr[dt](w0)
    for d in range(dim):
        op[unsafe_offset=d] = w0p[unsafe_offset=d]
    var xp = addr_ptr[dt](x)
    var yp = addr_ptr[dt](y)
    var lp = op.unsafe_offset(dim + 1)
    var b = b0.cast[dt]()
    var rate = lr.cast[dt]()
    var bout: Scalar[dt]
    comptime if flavor == NAIVE:
        bout = linreg_naive[dt](xp, yp, op, b, rate, ne, nb, batch, dim, lp)
    elif flavor == SIMD_:
        bout = linreg_simd[dt](xp, yp, op, b, rate, ne, nb, batch, dim, lp)
    else:
        bout = linreg_best[dt](xp, yp, op, b, rate, ne, nb, batch, dim, lp)
    op[unsafe_offset=dim] = bout


def py_linreg[flavor: Int](
    X: PythonObject, y: PythonObject, w0: PythonObject, b0: PythonObject,
    lr: PythonObject, epochs: PythonObject, threads: PythonObject,
) raises -> PythonObject:
    _ = int_arg(threads, "threads", 1)
    var dt = float_dtype(X, "X")
    var xa = check_array(X, "X", 3, dt)
    var ya = check_array(y, "y", 2, dt)
    var wa = check_array(w0, "w0", 1, dt)
    var b = float_arg(b0, "b0")
    var rate = float_arg(lr, "lr")
    var ne = int_arg(epochs, "epochs", 0)
    var nb = xa.dim(0)
    var batch = xa.dim(1)
    var dim = xa.dim(2)
    if ya.dim(0) != nb or ya.dim(1) != batch:
        raise Error(
            "ValueError: y must have shape (batches, batch) = (", nb, ", ", batch,
            ") for X ", shape_str(xa.shape), ", got ", shape_str(ya.shape),
        )
    if wa.dim(0) != dim:
        raise Error(
            "ValueError: w0 must have shape (dim,) = (", dim, ",) for X ",
            shape_str(xa.shape), ", got ", shape_str(wa.shape),
        )
    var out = new_array(Python.tuple(dim + 1 + ne), dt)
    var oa = OutArg(array_address(out))
    ref cpy = Python().cpython()
    var st = cpy.PyEval_SaveThread()
    if dt == "float32":
        _linreg_run[F32, flavor](xa.address, ya.address, wa.address, oa.address, b, rate,
                                 ne, nb, batch, dim)
    else:
        _linreg_run[F64, flavor](xa.address, ya.address, wa.address, oa.address, b, rate,
                                 ne, nb, batch, dim)
    cpy.PyEval_RestoreThread(st)
    return out


# ---------------------------------------------------------------------------- facts


def py_peak_gflops(
    threads: PythonObject, dtype: PythonObject, iters: PythonObject
) raises -> PythonObject:
    var nt = int_arg(threads, "threads", 1)
    var n = int_arg(iters, "iters", 1)
    var d = String(py=dtype)
    ref cpy = Python().cpython()
    var g: Float64
    if d == "float32":
        var st = cpy.PyEval_SaveThread()
        g = peak_gflops[F32](nt, n, 0.9999999, 1.0e-7)
        cpy.PyEval_RestoreThread(st)
    elif d == "float64":
        var st = cpy.PyEval_SaveThread()
        g = peak_gflops[F64](nt, n, 0.9999999, 1.0e-7)
        cpy.PyEval_RestoreThread(st)
    else:
        raise Error("ValueError: dtype must be 'float32' or 'float64', got ", d)
    return PythonObject(g)


def py_info() raises -> PythonObject:
    var builtins = Python.import_module("builtins")
    var d = builtins.dict()
    d["mojo_version"] = PythonObject(get_defined_string["SUITE_MOJO_VERSION", "unknown"]())
    d["max_version"] = PythonObject(get_defined_string["SUITE_MAX_VERSION", "unknown"]())
    d["target_cpu"] = PythonObject(String(CompilationTarget._arch()))
    d["simd_width_f32"] = PythonObject(simd_width_of[F32]())
    d["simd_width_f64"] = PythonObject(simd_width_of[F64]())
    d["logical_cores"] = PythonObject(num_logical_cores())
    return d


@export
def PyInit_suite_kernels() abi("C") -> PythonObject:
    try:
        var m = PythonModuleBuilder("suite_kernels")
        m.def_function[py_matmul[NAIVE]]("matmul_naive", docstring="matmul_naive(a, b, threads) -> a @ b")
        m.def_function[py_matmul[SIMD_]]("matmul_simd", docstring="matmul_simd(a, b, threads) -> a @ b")
        m.def_function[py_matmul[BEST]]("matmul", docstring="matmul(a, b, threads) -> a @ b")
        m.def_function[py_conv2d[NAIVE]]("conv2d_naive", docstring="conv2d_naive(x, w, bias, threads)")
        m.def_function[py_conv2d[SIMD_]]("conv2d_simd", docstring="conv2d_simd(x, w, bias, threads)")
        m.def_function[py_conv2d[BEST]]("conv2d", docstring="conv2d(x, w, bias, threads)")
        m.def_function[py_gelu[NAIVE]]("gelu_naive", docstring="gelu_naive(x, threads)")
        m.def_function[py_gelu[SIMD_]]("gelu_simd", docstring="gelu_simd(x, threads)")
        m.def_function[py_gelu[BEST]]("gelu", docstring="gelu(x, threads)")
        m.def_function[py_xent[NAIVE]]("xent_naive", docstring="xent_naive(logits, labels, threads)")
        m.def_function[py_xent[SIMD_]]("xent_simd", docstring="xent_simd(logits, labels, threads)")
        m.def_function[py_xent[BEST]]("xent", docstring="xent(logits, labels, threads)")
        m.def_function[py_linreg[NAIVE]]("linreg_naive", docstring="linreg_naive(X, y, w0, b0, lr, epochs, threads) -> [w, b, loss per epoch]")
        m.def_function[py_linreg[SIMD_]]("linreg_simd", docstring="linreg_simd(X, y, w0, b0, lr, epochs, threads) -> [w, b, loss per epoch]")
        m.def_function[py_linreg[BEST]]("linreg", docstring="linreg(X, y, w0, b0, lr, epochs, threads) -> [w, b, loss per epoch]")
        m.def_function[py_linreg_forward]("linreg_forward", docstring="linreg_forward(X, w, b) -> X @ w + b")
        m.def_function[py_noop]("noop", docstring="noop(x) -> x: one call's fixed cost")
        m.def_function[py_peak_gflops]("peak_gflops", docstring="peak_gflops(threads, dtype, iters) -> GFLOP/s")
        m.def_function[py_info]("info", docstring="info() -> dict of build facts")
        return m.finalize()
    except e:
        abort(String("failed to create module suite_kernels: ", e))
