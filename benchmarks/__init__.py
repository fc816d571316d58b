"""Benchmarks of ``mira_vectorstores`` against its anchors (not timed tests).

- ``python -m benchmarks.run --n 10000 100000``: speed (ingest, latency, filters, hybrid,
  cold start, memory, recall); see ``benchmarks/README.md``.
- ``python -m benchmarks.quality``: retrieval quality on BEIR SciFact.
"""
