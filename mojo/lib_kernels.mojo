"""Modular's own CPU kernels (the `max` package's linalg and nn) behind the suite's calling
convention: the `lib_kernels` extension, the `mojo-lib` flavor.

A Mojo user does not write a matmul: they call the library, as a NumPy user calls
OpenBLAS. Build: mojo build mojo/lib_kernels.mojo --emit shared-lib -o lib_kernels.so

matmul(a, b, threads): linalg.matmul.cpu.matmul (packed, micro-kernel based, the CPU
    dispatcher MAX's graph compiler uses) on the arrays' memory, `num_threads=threads`.
conv2d(x, w, bias, threads): nn.conv.conv.ConvDirectNHWC, MAX's direct CPU convolution.
    It takes NHWC input and RSCF filters; the workload's arrays are NCHW and FCRS, so x
    and w are transposed into scratch buffers first and the NHWC result is transposed
    back into the NCHW output with the bias added (plain copies, counted in the time).
    Its parallelism is the Mojo runtime's worker count (`parallelism_level()`), which
    the runtime takes from the process's CPU affinity when it starts.

Arguments are checked as in suite_kernels.mojo (common.mojo) while holding the GIL, the
output is allocated with numpy.empty, then the GIL is released around the kernel.
"""

from std.python import Python, PythonObject
from std.python.bindings import PythonModuleBuilder
from std.os import abort
from std.sys import get_defined_string
from std.utils.index import Index

from layout import Coord, TileTensor, row_major
from linalg.matmul.cpu import matmul as cpu_matmul
from nn.conv.conv import ConvDirectNHWC, ConvInfoStatic
from nn.conv.conv_utils import ConvShape
from std.runtime import parallelism_level

from common import (
    Ptr, addr_ptr, array_address, check_array, float_dtype, int_arg, new_array,
    scratch, shape_str,
)

comptime F32 = DType.float32
comptime F64 = DType.float64


# ---------------------------------------------------------------------------- matmul


def _matmul[dt: DType](
    a: Int, b: Int, c: Int, M: Int, K: Int, N: Int, threads: Int
) raises:
    var at = TileTensor(addr_ptr[dt](a).as_unsafe_any_origin(), row_major(M, K))
    var bt = TileTensor(addr_ptr[dt](b).as_unsafe_any_origin(), row_major(K, N))
    var ct = TileTensor(addr_ptr[dt](c).as_unsafe_any_origin(), row_major(M, N))
    cpu_matmul(ct, at.as_imm(), bt.as_imm(), 0, num_threads=threads)


def py_matmul(a: PythonObject, b: PythonObject, threads: PythonObject) raises -> PythonObject:
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
    var c = array_address(out)
    ref cpy = Python().cpython()
    var st = cpy.PyEval_SaveThread()
    try:
        if dt == "float32":
            _matmul[F32](aa.address, bb.address, c, M, K, N, nt)
        else:
            _matmul[F64](aa.address, bb.address, c, M, K, N, nt)
    except e:
        cpy.PyEval_RestoreThread(st)
        raise Error("RuntimeError: linalg matmul failed: ", e)
    cpy.PyEval_RestoreThread(st)
    return out


# ---------------------------------------------------------------------------- conv2d


def _nchw_to_nhwc(x: Ptr[F32], y: Ptr[F32], N: Int, C: Int, H: Int, W: Int):
    for n in range(N):
        for c in range(C):
            var src = x.unsafe_offset((n * C + c) * H * W)
            var dst = y.unsafe_offset(n * H * W * C + c)
            for p in range(H * W):
                dst[unsafe_offset=p * C] = src[unsafe_offset=p]


def _fcrs_to_rscf(w: Ptr[F32], r: Ptr[F32], F: Int, C: Int, K: Int):
    for f in range(F):
        for c in range(C):
            for i in range(K * K):
                r[unsafe_offset=(i * C + c) * F + f] = w[unsafe_offset=(f * C + c) * K * K + i]


def _nhwc_to_nchw_bias(
    y: Ptr[F32], dst: Ptr[F32], bias: Ptr[F32], N: Int, F: Int, H: Int, W: Int
):
    for n in range(N):
        for f in range(F):
            var plane = dst.unsafe_offset((n * F + f) * H * W)
            var src = y.unsafe_offset(n * H * W * F + f)
            var b = bias[unsafe_offset=f]
            for p in range(H * W):
                plane[unsafe_offset=p] = src[unsafe_offset=p * F] + b


def _conv2d(
    x: Int, w: Int, bias: Int, y: Int, N: Int, C: Int, H: Int, W: Int, F: Int, K: Int
) raises:
    var pad = (K - 1) // 2
    var xin = scratch[F32](N * H * W * C)
    var filt = scratch[F32](K * K * C * F)
    var yout = scratch[F32](N * H * W * F)
    _nchw_to_nhwc(addr_ptr[F32](x), xin, N, C, H, W)
    _fcrs_to_rscf(addr_ptr[F32](w), filt, F, C, K)
    var shape = ConvShape[2](
        n=N, input_dims=Coord(Index(H, W)), output_dims=Coord(Index(H, W)),
        filter_dims=Coord(Index(K, K)), c=C, f=F, stride=Coord(Index(1, 1)),
        dilation=Coord(Index(1, 1)), pad_d=Coord(Index(0, 0)),
        pad_h=Coord(Index(pad, pad)), pad_w=Coord(Index(pad, pad)), num_groups=1,
    )
    var it = TileTensor(xin.as_unsafe_any_origin(), row_major(Coord(Index(N, H, W, C))))
    var ft = TileTensor(filt.as_unsafe_any_origin(), row_major(Coord(Index(K, K, C, F))))
    var ot = TileTensor(yout.as_unsafe_any_origin(), row_major(Coord(Index(N, H, W, F))))
    comptime conv_attr = ConvInfoStatic[2]()
    try:
        ConvDirectNHWC[
            it.LayoutType, ft.LayoutType, ot.LayoutType, F32, F32, F32, False, conv_attr
        ].run(ot, it.as_imm(), ft.as_imm(), shape)
    except e:
        xin.unsafe_free()
        filt.unsafe_free()
        yout.unsafe_free()
        raise e^
    _nhwc_to_nchw_bias(yout, addr_ptr[F32](y), addr_ptr[F32](bias), N, F, H, W)
    xin.unsafe_free()
    filt.unsafe_free()
    yout.unsafe_free()


def py_conv2d(
    x: PythonObject, w: PythonObject, bias: PythonObject, threads: PythonObject
) raises -> PythonObject:
    _ = int_arg(threads, "threads", 1)
    var xa = check_array(x, "x", 4, "float32")
    var wa = check_array(w, "w", 4, "float32")
    var ba = check_array(bias, "bias", 1, "float32")
    var N = xa.dim(0)
    var C = xa.dim(1)
    var H = xa.dim(2)
    var W = xa.dim(3)
    var F = wa.dim(0)
    var K = wa.dim(2)
    if wa.dim(1) != C:
        raise Error(
            "ValueError: conv2d channels do not match: x is ", shape_str(xa.shape),
            " (N, C, H, W) and w is ", shape_str(wa.shape),
            " (F, C, KH, KW); need w.shape[1] == x.shape[1]",
        )
    if wa.dim(3) != K or K % 2 == 0:
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
    var y = array_address(out)
    ref cpy = Python().cpython()
    var st = cpy.PyEval_SaveThread()
    try:
        _conv2d(xa.address, wa.address, ba.address, y, N, C, H, W, F, K)
    except e:
        cpy.PyEval_RestoreThread(st)
        raise Error("RuntimeError: nn conv2d failed: ", e)
    cpy.PyEval_RestoreThread(st)
    return out


# ---------------------------------------------------------------------------- facts


def py_info() raises -> PythonObject:
    var builtins = Python.import_module("builtins")
    var d = builtins.dict()
    d["mojo_version"] = PythonObject(get_defined_string["SUITE_MOJO_VERSION", "unknown"]())
    d["max_version"] = PythonObject(get_defined_string["SUITE_MAX_VERSION", "unknown"]())
    d["parallelism_level"] = PythonObject(parallelism_level())
    return d


@export
def PyInit_lib_kernels() abi("C") -> PythonObject:
    try:
        var m = PythonModuleBuilder("lib_kernels")
        m.def_function[py_matmul]("matmul", docstring="matmul(a, b, threads): linalg's CPU matmul")
        m.def_function[py_conv2d]("conv2d", docstring="conv2d(x, w, bias, threads): nn's direct CPU conv")
        m.def_function[py_info]("info", docstring="info() -> dict of build facts")
        return m.finalize()
    except e:
        abort(String("failed to create module lib_kernels: ", e))
