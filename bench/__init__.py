"""Benchmarks for rais: ``python -m bench`` (``--quick`` for a ~30 s run). See bench/README.md."""
