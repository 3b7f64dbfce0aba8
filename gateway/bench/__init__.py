"""Latency and memory benchmarks of the recognition pipeline (`menwei bench`)."""
