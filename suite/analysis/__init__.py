"""Analysis: what result documents mean. Grouping by machine, per-cell comparison with
confidence intervals, the article's claims, the run summary and the report.

May import: measure (formatting, statistics), runtimes, flavors, workloads, documents.
"""
