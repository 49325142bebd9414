"""Benchmarks: every speed and quality claim as a number one command reproduces (``python -m bench``).

Results are JSON under ``bench/results/``; ``bench/REPORT.md`` is regenerated from whatever JSON exists.
"""
