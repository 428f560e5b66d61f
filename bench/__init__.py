"""Load benchmarks against a running provider (see docs/benchmarks.md)."""
