"""Batches of prompts: ``python -m engine batch PROMPTS --out DIR``.

Each prompt is an ordinary ``generate`` run in its own engine process, in a folder under DIR; the
ledger ``DIR/batch.jsonl`` says what became of each one, so running the same command again continues
where the last one stopped. Executors decide where the processes run: this machine, one at a time
(``local``), or the tasks of a Ray cluster (``ray``).
"""
