"""`make bench`: load tests against a production-configured server (see bench/run.py)."""
