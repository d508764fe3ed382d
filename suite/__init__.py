"""A benchmark suite for numerical Python runtimes: CPython (with and without its JIT),
PyPy, Numba, NumPy and Mojo, run on the same seeded inputs and checked against one float64
reference.

One package per stage of the flow; imports point down this list only (tests/test_layout.py):

    commands, cli   the front door: one module per subcommand
    publish         CI matrix, Pages site, reproducing a published result
    analysis        compare, claims, summary, machines, report/
    measure         plan, schedule, execute (runner), worker, stats, check, environment
    runtimes        the runtimes file, native and container backends, engine, images
    flavors         implementation families with their own toolchain (numba, mojo)
    workloads       definitions, inputs, references, tolerances, pure + NumPy flavors
    documents       result documents: read, write, validate, load
"""

__version__ = "0.1.0"
