"""Speed benchmarks of irem (not part of the test suite): ``python -m benchmarks.run``."""
