"""Running jobs: claim → read text → enrich → store → index, with retries and dead-lettering.

A job is idempotent: a redelivered message (worker killed, `acks_late`) finds the job done and
does nothing, and the store step writes into the document row created at submit time, so no
duplicate document can appear. Only the text-reading stage differs between the general worker
(fetch + extract) and the OCR worker (OCR); everything after it is this one code path.

- `claim`: mark jobs running and load their inputs; dead-letter jobs that keep losing their worker;
- `readers`: the text-reading stage (`read_text`); `ocr_reader`: the OCR worker's (`read_text_with_ocr`);
- `stage`: the per-stage timer behind `sie_job_duration_seconds`;
- `outcome`: what happens to a job that does not finish here (fail, retry, dead-letter, go to OCR);
- `store`: write the results into the document rows, a batch per transaction;
- `run`: the whole run (`run_jobs`), as the Celery tasks and local mode call it.
"""
