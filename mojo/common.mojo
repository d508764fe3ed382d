"""Shared helpers: raw pointers, NumPy argument checks, the GIL, work splitting.

Every array handed to the extension is checked here before any pointer is formed:
type (numpy.ndarray), dtype, number of dimensions, C-contiguity, non-empty, and
(for outputs) writeability. Error messages start with "TypeError: " or
"ValueError: " so the Python wrapper can re-raise them as those exception classes;
called directly, the extension raises a plain Exception with the same message.
"""

from std.memory import Pointer
from std.memory.alloc import unsafe_alloc
from std.python import Python, PythonObject

comptime Ptr[dt: DType] = Pointer[Scalar[dt], MutUntrackedOrigin]
comptime IPtr = Pointer[Int64, MutUntrackedOrigin]


@always_inline
def addr_ptr[dt: DType](address: Int) -> Ptr[dt]:
    return Ptr[dt](unsafe_from_address=address)


@always_inline
def scratch[dt: DType](n: Int) -> Ptr[dt]:
    """A 64-byte aligned scratch buffer of n elements (free with unsafe_free())."""
    return unsafe_alloc[Scalar[dt]](max(n, 1), alignment=64)


def dtype_name(obj: PythonObject) raises -> String:
    return String(py=obj.dtype.name)


def type_name(obj: PythonObject) raises -> String:
    var builtins = Python.import_module("builtins")
    return String(py=builtins.type(obj).__name__)


struct ArrayArg(Copyable, Movable):
    """A checked NumPy array: its address and shape."""

    var address: Int
    var shape: List[Int]

    def __init__(out self, address: Int, var shape: List[Int]):
        self.address = address
        self.shape = shape^

    def dim(self, i: Int) -> Int:
        return self.shape[i]

    def size(self) -> Int:
        var n = 1
        for i in range(len(self.shape)):
            n *= self.shape[i]
        return n


def shape_str(shape: List[Int]) -> String:
    var s = String("(")
    for i in range(len(shape)):
        if i > 0:
            s += ", "
        s += String(shape[i])
    if len(shape) == 1:
        s += ","
    return s + ")"


def check_array(
    obj: PythonObject,
    name: String,
    ndim: Int,
    dtype: String,
    writeable: Bool = False,
) raises -> ArrayArg:
    """Check obj is a C-contiguous, non-empty ndarray of dtype with ndim dimensions.

    Python attribute access from Mojo costs ~0.1-0.5 us, converting a Python str to a
    Mojo String ~5-10 us: the happy path compares dtypes on the Python side and
    converts names only to build an error message.
    """
    var np = Python.import_module("numpy")
    var builtins = Python.import_module("builtins")
    if not Bool(py=builtins.isinstance(obj, np.ndarray)):
        raise Error(
            "TypeError: ", name, " must be a numpy.ndarray, got ", type_name(obj)
        )
    if not Bool(py=obj.dtype == PythonObject(dtype)):
        raise Error(
            "TypeError: ", name, " must have dtype ", dtype, ", got ", dtype_name(obj)
        )
    var nd = Int(py=obj.ndim)
    if nd != ndim:
        raise Error(
            "ValueError: ", name, " must be ", ndim, "-D, got ", nd, "-D array"
        )
    var shape = List[Int](capacity=nd)
    var size = 1
    var pyshape = obj.shape
    for i in range(nd):
        var d = Int(py=pyshape[i])
        shape.append(d)
        size *= d
    if size == 0:
        raise Error(
            "ValueError: ", name, " must not be empty, got shape ", shape_str(shape)
        )
    var flags = obj.flags
    if not Bool(py=flags.c_contiguous):
        raise Error(
            "ValueError: ", name,
            " must be C-contiguous (use numpy.ascontiguousarray), got strides ",
            String(py=builtins.str(obj.strides)),
        )
    if writeable and not Bool(py=flags.writeable):
        raise Error("ValueError: ", name, " must be writeable")
    return ArrayArg(array_address(obj), shape^)


def array_address(obj: PythonObject) raises -> Int:
    """The data pointer of an ndarray (numpy's array interface)."""
    return Int(py=obj.__array_interface__["data"][0])


def float_dtype(obj: PythonObject, name: String, allowed64: Bool = True) raises -> String:
    """The dtype name of a float32/float64 ndarray, or a TypeError."""
    var np = Python.import_module("numpy")
    var builtins = Python.import_module("builtins")
    if not Bool(py=builtins.isinstance(obj, np.ndarray)):
        raise Error(
            "TypeError: ", name, " must be a numpy.ndarray, got ", type_name(obj)
        )
    var dt = obj.dtype
    if Bool(py=dt == PythonObject("float32")):
        return "float32"
    if allowed64 and Bool(py=dt == PythonObject("float64")):
        return "float64"
    if allowed64:
        raise Error(
            "TypeError: ", name, " must have dtype float32 or float64, got ", dtype_name(obj)
        )
    raise Error("TypeError: ", name, " must have dtype float32, got ", dtype_name(obj))


def int_arg(obj: PythonObject, name: String, lo: Int) raises -> Int:
    var builtins = Python.import_module("builtins")
    var operator = Python.import_module("operator")
    if Bool(py=builtins.isinstance(obj, builtins.bool)):
        raise Error("TypeError: ", name, " must be an int, got bool")
    var v: Int
    try:
        v = Int(py=operator.index(obj))
    except:
        raise Error("TypeError: ", name, " must be an int, got ", type_name(obj))
    if v < lo:
        raise Error("ValueError: ", name, " must be >= ", lo, ", got ", v)
    return v


def float_arg(obj: PythonObject, name: String) raises -> Float64:
    var builtins = Python.import_module("builtins")
    var v: Float64
    try:
        v = Float64(py=builtins.float(obj))
    except:
        raise Error("TypeError: ", name, " must be a real number, got ", type_name(obj))
    return v


def new_array(shape: PythonObject, dtype: String) raises -> PythonObject:
    """np.empty(shape, dtype): the output array, owned by Python."""
    var np = Python.import_module("numpy")
    return np.empty(shape, dtype)


@always_inline
def split_range(n: Int, parts: Int, part: Int, align: Int = 1) -> Tuple[Int, Int]:
    """The part-th of `parts` contiguous chunks of range(n), chunk starts aligned."""
    var units = (n + align - 1) // align
    var base = units // parts
    var extra = units % parts
    var start = part * base + min(part, extra)
    var stop = start + base + (1 if part < extra else 0)
    return (min(start * align, n), min(stop * align, n))
