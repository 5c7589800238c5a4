"""Benchmarks and evaluations of mcr-agent (run from the repository root)."""
