"""The OCR model: EasyOCR on a CUDA GPU when present, else the CPU; one reader per process.

torch and EasyOCR (the `ocr` extra) are imported inside the functions that load the model only:
they are optional heavy dependencies (several seconds and gigabytes), and the API and the general
worker, which import the pipeline, must never load them.
"""

from __future__ import annotations

import math
import statistics
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sie.core.config import settings
from sie.core.errors import ServiceUnavailable
from sie.core.logging import get_logger, timed

log = get_logger(__name__)

OcrDevice = Literal["cpu", "cuda"]
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
# On a CPU, text detection first runs at half scale (a quarter of the cost) and again at full scale
# when the boxes it finds are under SMALL_TEXT_PX high (median) or there are none. Measured: half
# scale found every word of 20 px type and up (boxes of 24 px and more) but only 71 % at 11 px.
FAST_DETECT_SCALE = 0.5
SMALL_TEXT_PX = 24

_reader_lock = threading.Lock()
# EasyOCR's Reader is not documented as thread-safe, and parallel inference on one model gains nothing.
_inference_lock = threading.Lock()
_reader: Any = None  # easyocr.Reader; EasyOCR ships no type hints
_reader_load_count = 0


@dataclass(frozen=True)
class PageBoxes:
    """What the model read on one page: EasyOCR's (box, text, confidence) results."""

    results: list[Any]
    detect_scale: float
    duration_ms: float


def reader_loads() -> int:
    """How many times this process has loaded the OCR model: 1 once warm, however many jobs ran."""
    return _reader_load_count


def select_device() -> OcrDevice:
    """The device OCR_DEVICE asks for (`auto`: CUDA when torch sees a GPU), logged once per load."""
    import torch  # optional heavy dependency: only the OCR worker loads it

    threads = settings.ocr_threads or _cpu_limit()
    if threads:
        torch.set_num_threads(threads)
    requested = settings.ocr_device
    cuda_available = torch.cuda.is_available()
    if requested == "cuda" and not cuda_available:
        raise ServiceUnavailable("ocr", "OCR_DEVICE=cuda but torch sees no CUDA device")
    device: OcrDevice = "cuda" if requested != "cpu" and cuda_available else "cpu"
    log.info(
        "ocr_device_selected",
        device=device,
        requested=requested,
        gpu=torch.cuda.get_device_name(0) if device == "cuda" else None,
        torch_threads=torch.get_num_threads(),
    )
    return device


def _cpu_limit() -> int | None:
    """The container's CPU limit (cgroup v2 `cpu.max`), rounded up; None when unlimited or unknown.

    torch sizes its thread pool by the machine's cores, not by the pod's limit.
    """
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()[:2]
        return None if quota == "max" else max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        return None


def get_reader() -> Any:
    """The process's one EasyOCR reader, loaded on first use (or at worker start-up)."""
    global _reader, _reader_load_count
    with _reader_lock:
        if _reader is None:
            _reader = _load_reader()
            _reader_load_count += 1
        return _reader


def _load_reader() -> Any:
    # Optional heavy dependencies (the `ocr` extra): only the OCR worker loads them.
    import easyocr
    import easyocr_en_models
    import torch

    device = select_device()
    weights = easyocr_en_models.model_dir()
    languages = list(settings.ocr_languages)
    try:
        with timed() as timing:
            # Both directories point into the weights package: nothing is downloaded or written to $HOME.
            reader = easyocr.Reader(
                languages,
                gpu=device == "cuda",
                model_storage_directory=weights,
                user_network_directory=weights,
                download_enabled=False,
                verbose=False,
            )
    except (FileNotFoundError, ValueError) as exc:
        log.error("ocr_model_load_failed", languages=languages, error=str(exc))
        raise ServiceUnavailable(
            "ocr", f"cannot load the OCR model for OCR_LANGUAGES={languages}: {exc}"
        ) from exc
    if device == "cpu":
        # Same readings, about 25 % less CPU per page on this project's machines (oneDNN convolutions).
        reader.detector = reader.detector.to(memory_format=torch.channels_last)
        reader.recognizer = reader.recognizer.to(memory_format=torch.channels_last)
    log.info("ocr_model_loaded", device=device, languages=languages, duration_ms=timing["duration_ms"])
    return reader


def read_boxes(pixels: np.ndarray) -> PageBoxes:
    """Detect the text boxes of one page's greyscale pixels and recognise each."""
    reader = get_reader()
    with _inference_lock, timed() as timing:
        horizontal, free, detect_scale = _detect_text(reader, pixels)
        # EasyOCR recognises box by box on the CPU (padding a batch costs more there); batches on a GPU.
        results = reader.recognize(
            pixels, horizontal, free, batch_size=16 if reader.device == "cuda" else 1, paragraph=False
        )
    return PageBoxes(results, detect_scale, timing["duration_ms"])


def _detect_text(reader: Any, pixels: np.ndarray) -> tuple[list[Any], list[Any], float]:
    """Text boxes of a page, and the scale the detector ran at.

    The detector's cost grows with its input's pixels and dominates OCR on a CPU. Text of ordinary
    size is found as well at half scale, four times faster; when the boxes found there are small
    (or none are), the page is detected again at full scale so small print is not lost.
    """
    scales = (1.0,) if reader.device == "cuda" else (FAST_DETECT_SCALE, 1.0)
    for scale in scales:
        # canvas_size: the image is already at most OCR_MAX_SIDE; the detector must not enlarge it.
        horizontal, free = reader.detect(pixels, mag_ratio=scale, canvas_size=settings.ocr_max_side)
        heights = [y_max - y_min for _, _, y_min, y_max in horizontal[0]]
        if scale == 1.0 or (heights and statistics.median(heights) >= SMALL_TEXT_PX):
            break
    return horizontal[0], free[0], scale
