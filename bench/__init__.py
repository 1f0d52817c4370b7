"""Benchmarks, and the harness they share with the tests.

Scripts run from the repository root (`.venv/bin/python bench/<name>.py`) and import their
neighbours by module name (`from processes import ...`); the tests import the same modules as
`bench.<name>`. The shared modules import no `sie` module at import time, except `dead_jobs`,
which callers import only once the environment is set: settings are parsed once, at import.
"""
