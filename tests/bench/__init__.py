"""Tests of the benchmark (menwei bench)."""
