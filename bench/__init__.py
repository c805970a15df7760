"""Benchmarks: `make bench` times the daily sweep over a demo install (bench/sweep.py)."""
