"""core: the kernel every other package may import — the error tree, typed ids, redaction, the clock.

It imports nothing of the project (an import-linter contract in pyproject.toml holds it to that) and
no I/O library, so any layer can use it without pulling the rest of the bridge in.
"""
