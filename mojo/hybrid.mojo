"""The article's hybrid training loop (Code Example 3): Python drives, Mojo computes.

linreg_forward(X, w, b) -> X @ w + b is the one call into Mojo per batch that the
`mojo-hybrid` flavor makes (suite/flavors/mojo.py); the SGD update stays in NumPy.
noop(x) -> x does nothing: timing it gives the fixed cost of one Python-to-Mojo call
(suite/flavors/mojo_setup.py records it as the runtime's `call_ns`).
"""

from std.python import Python, PythonObject

from common import addr_ptr, array_address, check_array, float_dtype, float_arg, new_array, shape_str


def _forward[dt: DType](
    x: Int, w: Int, out_addr: Int, b: Float64, rows: Int, dim: Int
):
    var xp = addr_ptr[dt](x)
    var wp = addr_ptr[dt](w)
    var op = addr_ptr[dt](out_addr)
    var bias = Scalar[dt](b)
    for r in range(rows):
        var acc = bias
        for d in range(dim):
            acc += xp[unsafe_offset=r * dim + d] * wp[unsafe_offset=d]
        op[unsafe_offset=r] = acc


def py_linreg_forward(
    X: PythonObject, w: PythonObject, b: PythonObject
) raises -> PythonObject:
    """X (batch, dim) @ w (dim,) + b, in X's dtype (float32 or float64)."""
    var dt = float_dtype(X, "X")
    var xa = check_array(X, "X", 2, dt)
    var wa = check_array(w, "w", 1, dt)
    var bias = float_arg(b, "b")
    var rows = xa.dim(0)
    var dim = xa.dim(1)
    if wa.dim(0) != dim:
        raise Error(
            "ValueError: w must have shape (dim,) = (", dim, ",) for X ",
            shape_str(xa.shape), ", got ", shape_str(wa.shape),
        )
    var out = new_array(Python.tuple(rows), dt)
    var oaddr = array_address(out)
    # 64 x 10 multiply-adds: far less than the cost of releasing the GIL.
    if dt == "float32":
        _forward[DType.float32](xa.address, wa.address, oaddr, bias, rows, dim)
    else:
        _forward[DType.float64](xa.address, wa.address, oaddr, bias, rows, dim)
    return out


def py_noop(x: PythonObject) raises -> PythonObject:
    """Returns its argument: the cost of a call is all boundary."""
    return x
