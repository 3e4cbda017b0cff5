"""Benchmarks: each prints our figure beside a raw baseline run in the same process,
against the same backend, and the ratio. Speed is measured here, never asserted in tests."""
