"""Benchmark: the gateway against a direct static upstream and nginx as the reference proxy."""
