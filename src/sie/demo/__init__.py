"""`sie demo`: the whole pipeline on the bundled sample corpus, on embedded defaults only.

Settings are parsed once, at import, so the demo runs in a process of its own whose environment
names no external service (no `DATABASE_URL`, `REDIS_URL`, `MEILISEARCH_URL`, `SENTRY_DSN`) and
whose working directory is the demo's data directory, so no project `.env` can point it elsewhere.
There it migrates a fresh SQLite database, creates a demo API key, pushes the corpus through the
real API in-process (FastAPI's TestClient: authentication, validation, rate limiting and the
in-process queue all run), waits for every job, and prints what happened. `--serve` then keeps
the API serving on 127.0.0.1.

- `run`: options, the clean child process, and the run itself (`main`);
- `corpus`: the bundled corpus (`sie/samples/`) as ingest inputs;
- `report`: the outcome read back through the API, and the printed report.

Exit status: 0 when every document ended `done` or `duplicate`; 1 otherwise.
"""
