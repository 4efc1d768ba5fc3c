"""Measure: statistics from raw samples, stability, the SLO search, resource monitoring, the in-process
reference, the parity gate and cost.

Pure numbers and the checks that decide what a number means; starts no load of its own except the
in-process reference.
"""
