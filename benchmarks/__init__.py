"""Benchmarks of irem (not part of the test suite).

- :mod:`benchmarks.speed`: how fast irem trains and solves (``python -m benchmarks.speed.run``),
  profiles, performance studies and time to quality;
- :mod:`benchmarks.diagnostics`: why a trained run errs where it does (bigger graphs, path
  lengths, a descent step by step, the 1-WL ceiling);
- :mod:`benchmarks.tools`: shipping a model under ``models/`` and the scripts of campaigns.
"""
