"""Benchmark harness: tasks, the method registry and the runner behind ``pnp-internal bench``."""
