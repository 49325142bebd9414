"""Benchmarks: every speed and quality claim as a number one command reproduces (``python -m bench``).

Results are JSON under ``bench/results/``, each in the one envelope of ``results_file.py``; ``bench/REPORT.md``
is regenerated from whatever JSON exists.
"""
