"""Benchmarks (`python -m bench`) and the chaos run (`python -m bench.chaos`), with the one process
harness (`bench.stack`) that the chaos and process tests share. Figures: `bench/README.md`.
"""
