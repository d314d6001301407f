"""Benchmark method families; importing this package registers all of them."""
