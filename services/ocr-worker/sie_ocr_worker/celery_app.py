"""The OCR worker: `celery -A sie_ocr_worker.celery_app worker --concurrency 1` consumes the `ocr` queue.

Each process holds one EasyOCR model (about 2.5 GB on the CPU), loaded at start-up and never per
task, so size `--concurrency` to memory. OCR_DEVICE=auto takes a CUDA GPU when one is present.
"""

from __future__ import annotations

from typing import Any

from sie.core.config import settings
from sie.core.engine.jobs.ocr_reader import read_text_with_ocr
from sie.core.engine.worker_app import build_worker_app
from sie.core.pipeline.ocr_engine import get_reader
from sie.core.queues import QUEUE_OCR, TASK_OCR_JOBS

app: Any = build_worker_app(
    name="sie-ocr",
    component="ocr-worker",
    task_name=TASK_OCR_JOBS,
    queues=(QUEUE_OCR,),
    load_models=get_reader,  # logs `ocr_device_selected` and `ocr_model_loaded`
    reader=read_text_with_ocr,
    ready_details=lambda: {"ocr_device": settings.ocr_device, "ocr_languages": settings.ocr_languages},
)
