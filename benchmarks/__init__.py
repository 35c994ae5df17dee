"""Benchmarks: scripts whose figures go into benchmarks/README.md."""
