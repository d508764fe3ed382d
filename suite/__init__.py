"""A benchmark suite for numerical Python runtimes: CPython (with and without its JIT),
NumPy and Mojo, run on the same seeded inputs and checked against one float64 reference."""

__version__ = "0.1.0"
