"""Skyloop benchmarks: each module measures one budget and writes bench/results/<name>.json."""
