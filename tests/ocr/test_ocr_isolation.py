"""torch and EasyOCR stay in the OCR worker: the API, the general worker and the OCR stage
(`sie.core.pipeline.ocr`, until it reads an image) never import them."""

from __future__ import annotations

import os
import subprocess
import sys

from bench.processes import REPO_ROOT

PROBE = """
import sys
import sie_api.main, sie_worker.celery_app
import sie.core.engine.runtime
import sie.core.pipeline.ocr  # imports torch and EasyOCR only when a model is needed
from sie.core.engine.jobs.ocr_reader import read_text_with_ocr
from sie.core.engine.jobs.readers import read_text
from sie.core.engine.jobs.run import run_jobs
from sie.core.pipeline.extract import extract
from bench.printed_text import render_text_image, scanned_pdf
assert extract(scanned_pdf([render_text_image(["Scanned"])])).needs_ocr
print(sorted(name for name in ("torch", "easyocr", "cv2") if name in sys.modules))
"""


def test_api_and_general_worker_do_not_load_torch_or_easyocr() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
