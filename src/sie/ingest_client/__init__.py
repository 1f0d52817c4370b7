"""`sie ingest PATH|URL...`: push files, folders, feed files and URLs into SIE.

Two ways to deliver, one flow:
- remote (`--api-url`, `--api-key` or `SIE_API_URL`/`SIE_API_KEY`): files go to
  `/v1/documents/upload`, text and URL documents to `/v1/documents/batch` in chunks; a 429 or 503
  is retried after the server's `Retry-After` (`remote`).
- direct (no `--api-url`): documents go through `sie.core.engine.ingest.ingest` into the configured
  database and queue; with the in-process queue (local mode) the command waits for the jobs to run
  (`direct`). Files follow the API's own upload rules (`sie.core.pipeline.uploads`).

Feed files (`.xml`, `.rss`, `.atom` that feedparser reads as RSS or Atom) are expanded into one
document per item (`inputs`). Every input ends up accepted (maybe as a duplicate) or rejected with a
reason (`report`).

Exit status: 0 when every input was accepted (and, with `--wait`, every job finished `done`);
1 when any input was rejected or any waited-for job failed, died or did not finish in time;
2 when nothing could be sent at all (API unreachable, key refused, bad arguments).
"""

from sie.ingest_client.command import deliver, push, run, wait_for_jobs
from sie.ingest_client.direct import DirectSender
from sie.ingest_client.inputs import DocumentRequest, FileUpload, Inputs, collect_inputs
from sie.ingest_client.remote import RemoteSender, api_client
from sie.ingest_client.report import IngestReport, JobState, Outcome
from sie.ingest_client.senders import IngestAborted, Sender

__all__ = [
    "DirectSender",
    "DocumentRequest",
    "FileUpload",
    "IngestAborted",
    "IngestReport",
    "Inputs",
    "JobState",
    "Outcome",
    "RemoteSender",
    "Sender",
    "api_client",
    "collect_inputs",
    "deliver",
    "push",
    "run",
    "wait_for_jobs",
]
