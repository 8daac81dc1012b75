"""Benchmarks: scripts that print numbers beside the tool a user would otherwise use (`make bench`)."""
