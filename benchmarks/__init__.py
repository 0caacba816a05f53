"""Benchmarks with budgets from the issues; run them all with ``python -m benchmarks``."""
