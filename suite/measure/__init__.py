"""Measurement: plan the cells, schedule worker processes interleaved across runtimes,
execute them through a backend (runner), and, inside the runtime under test, the worker
that times a flavor, checks its output and records the environment; plus the statistics
and the profiles that say how much to measure.

May import: runtimes, flavors, workloads, documents.
"""
