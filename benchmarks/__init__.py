"""Benchmarks for sr_sec_async (not part of the installed package)."""
