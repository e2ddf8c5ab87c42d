"""Benchmarks: each prints its timings beside an anchor measured in the same run, and the ratio."""
