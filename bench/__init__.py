"""Benchmarks of the real service (`make bench`)."""
