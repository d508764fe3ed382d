"""Publishing: the CI matrix read from the runtimes file, the Pages site, the reference set
committed under published/ (and the README tables generated from it), and reproducing a
published result from the exact image behind it.

May import: analysis, measure, runtimes, flavors, workloads, documents.
"""
