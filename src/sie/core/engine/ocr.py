"""OCR: images and scanned PDF pages become text, with EasyOCR on a CUDA GPU when present, else the CPU.

`read_text_with_ocr` is the OCR worker's text reader: `sie.core.engine.jobs.run_jobs` hands what it returns
to the same enrich → store → index stages as every other job. torch and EasyOCR (the `ocr` extra)
are imported inside functions only, so the API and the general worker never load them.

Strategies, from the job option `ocr_strategy`:
- `auto`: keep the text layer; OCR images and the PDF pages that have no text layer.
- `ocr_only`: OCR every page of a PDF, ignoring its text layer.
- `no_ocr`: the text layer only; an image then has no text and its job fails saying so.

Bad input never crashes a worker: empty, corrupt or truncated images, decompression bombs and
over-long PDFs raise a `PermanentError` subclass, and the job ends `failed` with the reason.
"""

from __future__ import annotations

import math
import statistics
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from io import BytesIO
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pypdfium2 as pdfium
from PIL import Image, UnidentifiedImageError

from sie.core.config import settings
from sie.core.engine.jobs import ClaimedJob, job_content, read_text, stage
from sie.core.errors import ContentTooLarge, EmptyContent, ServiceUnavailable, UnsupportedContent
from sie.core.logging import get_logger, timed
from sie.core.pipeline.extract import PDFIUM_LOCK, extract
from sie.core.pipeline.types import ExtractedText, OcrWord, PageText

log = get_logger(__name__)

OcrDevice = Literal["cpu", "cuda"]
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
PDF_TYPE = "application/pdf"
# Scans are read best around 300 dpi; OCR_MAX_SIDE lowers that for large pages.
RENDER_DPI = 300
POINTS_PER_INCH = 72
# On a CPU, text detection first runs at half scale (a quarter of the cost) and again at full scale
# when the boxes it finds are under SMALL_TEXT_PX high (median) or there are none. Measured: half
# scale found every word of 20 px type and up (boxes of 24 px and more) but only 71 % at 11 px.
FAST_DETECT_SCALE = 0.5
SMALL_TEXT_PX = 24
# What PIL raises for malformed image data, depending on the format and where the damage is.
IMAGE_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)

# From the header, before decoding: PIL refuses images over twice this (DecompressionBombError) and
# only warns over it; `_check_pixels` refuses anything over OCR_MAX_PIXELS, so the warning adds nothing.
Image.MAX_IMAGE_PIXELS = settings.ocr_max_pixels
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

_reader_lock = threading.Lock()
# EasyOCR's Reader is not documented as thread-safe, and parallel inference on one model gains nothing.
_inference_lock = threading.Lock()
_reader: Any = None  # easyocr.Reader; EasyOCR ships no type hints
_reader_load_count = 0


def reader_loads() -> int:
    """How many times this process has loaded the OCR model: 1 once warm, however many jobs ran."""
    return _reader_load_count


def select_device() -> OcrDevice:
    """The device OCR_DEVICE asks for (`auto`: CUDA when torch sees a GPU), logged once per load."""
    import torch

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


def read_text_with_ocr(job: ClaimedJob) -> ExtractedText:
    """The OCR worker's text reader: extract what has a text layer, OCR what has none."""
    if job.text is not None:
        return read_text(job)
    strategy = job.options.get("ocr_strategy", "auto")
    content = job_content(job)
    with stage("extract"):
        extracted = extract(content.data, declared_type=content.declared_type, filename=content.filename)
    force_ocr = strategy == "ocr_only" and extracted.content_type == PDF_TYPE
    if strategy == "no_ocr" or not (extracted.needs_ocr or force_ocr):
        return extracted
    with stage("ocr"), timed() as timing:
        if extracted.content_type == PDF_TYPE:
            numbers = [page.number for page in extracted.pages] if force_ocr else extracted.pages_without_text
            read = _merge_pages(extracted.pages, ocr_pdf_pages(content.data, numbers))
        else:
            read = ocr_image_bytes(content.data)
    result = replace(
        extracted,
        text="\n\n".join(page.text for page in read if page.text),
        pages=tuple(read),
        needs_ocr=False,
        pages_without_text=(),
        ocr_confidence=document_confidence(read),
    )
    log.info(
        "ocr_completed",
        job_id=str(job.job_id),
        strategy=strategy,
        pages=sum(1 for page in read if page.ocr_confidence is not None),
        characters=len(result.text),
        ocr_confidence=result.ocr_confidence,
        duration_ms=timing["duration_ms"],
    )
    return result


def ocr_image_bytes(data: bytes) -> list[PageText]:
    """OCR an image file; each frame of a multi-page TIFF is a page."""
    image = open_image(data)
    frames = getattr(image, "n_frames", 1) if image.format == "TIFF" else 1
    _check_page_count(frames, "image frames")
    pages = []
    for index in range(frames):
        try:
            image.seek(index)
        except IMAGE_DECODE_ERRORS as exc:
            raise UnsupportedContent(f"image frame {index + 1} cannot be decoded ({exc})") from None
        _check_pixels(image.width, image.height)
        pages.append(ocr_image(_decoded(image), number=index + 1))
    return pages


def open_image(data: bytes) -> Image.Image:
    """Open an image from its header only; bombs and unreadable data raise before decoding."""
    if not data:
        raise EmptyContent("image is empty (0 bytes)")
    try:
        image = Image.open(BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ContentTooLarge(
            f"image is over the OCR_MAX_PIXELS cap of {settings.ocr_max_pixels}: {exc}"
        ) from None
    except UnidentifiedImageError:
        raise UnsupportedContent("image cannot be decoded (no image format recognises its data)") from None
    except IMAGE_DECODE_ERRORS as exc:
        raise UnsupportedContent(f"image cannot be decoded ({exc})") from None
    _check_pixels(image.width, image.height)
    return image


def ocr_image(image: Image.Image, *, number: int = 1) -> PageText:
    """OCR one page image: words at or above OCR_CONFIDENCE_FLOOR make the text, the rest are kept aside."""
    pixels = _ocr_input(image)
    reader = get_reader()
    with _inference_lock, timed() as timing:
        horizontal, free, detect_scale = _detect_text(reader, pixels)
        # EasyOCR recognises box by box on the CPU (padding a batch costs more there); batches on a GPU.
        results = reader.recognize(
            pixels, horizontal, free, batch_size=16 if reader.device == "cuda" else 1, paragraph=False
        )
    page = page_from_boxes(results, number=number, floor=settings.ocr_confidence_floor)
    log.debug(
        "ocr_page_read",
        page=number,
        width=pixels.shape[1],
        height=pixels.shape[0],
        detect_scale=detect_scale,
        boxes=len(results),
        ocr_confidence=page.ocr_confidence,
        duration_ms=timing["duration_ms"],
    )
    return page


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


def ocr_pdf_pages(pdf_bytes: bytes, pages: Sequence[int]) -> list[PageText]:
    """OCR the given 1-based pages of a PDF, rendered under the pixel cap, one page in memory at a time."""
    _check_page_count(len(pages), "PDF pages to OCR")
    return [ocr_image(image, number=number) for number, image in _rendered_pages(pdf_bytes, pages)]


def page_from_boxes(results: Sequence[Any], *, number: int, floor: float) -> PageText:
    """A page from EasyOCR's (box, text, confidence) results: boxes in reading order, one line per row."""
    kept_lines: list[str] = []
    low_confidence: list[OcrWord] = []
    weighted = characters = 0.0
    for line in _reading_order(results):
        kept = []
        for text, confidence in line:
            weighted += confidence * len(text)
            characters += len(text)
            if confidence >= floor:
                kept.append(text)
            else:
                low_confidence.append(OcrWord(text=text, confidence=round(confidence, 3)))
        if kept:
            kept_lines.append(" ".join(kept))
    return PageText(
        number=number,
        text="\n".join(kept_lines),
        ocr_confidence=round(weighted / characters, 3) if characters else 0.0,
        low_confidence_words=tuple(low_confidence),
    )


def document_confidence(pages: Sequence[PageText]) -> float | None:
    """Mean OCR confidence over the OCR-read pages, weighted by the characters each recognised."""
    weighted = characters = 0.0
    for page in pages:
        if page.ocr_confidence is None:
            continue
        recognised = len(page.text) + sum(len(word.text) for word in page.low_confidence_words)
        weighted += page.ocr_confidence * recognised
        characters += recognised
    if characters:
        return round(weighted / characters, 3)
    return 0.0 if any(page.ocr_confidence is not None for page in pages) else None


class _Box(NamedTuple):
    top: float
    bottom: float
    left: float
    text: str
    confidence: float


def _reading_order(results: Sequence[Any]) -> list[list[tuple[str, float]]]:
    """Rows of (text, confidence), top to bottom, each left to right.

    A box joins the row above when its vertical centre lies within that row's span.
    """
    boxes = []
    for corners, raw_text, confidence in results:
        text = " ".join(str(raw_text).split())
        if text:
            xs, ys = [float(point[0]) for point in corners], [float(point[1]) for point in corners]
            boxes.append(_Box(min(ys), max(ys), min(xs), text, float(confidence)))
    boxes.sort(key=lambda box: box.top + box.bottom)
    rows: list[list[_Box]] = []
    for box in boxes:
        centre = (box.top + box.bottom) / 2
        if rows and rows[-1][0].top <= centre <= max(member.bottom for member in rows[-1]):
            rows[-1].append(box)
        else:
            rows.append([box])
    return [[(box.text, box.confidence) for box in sorted(row, key=lambda box: box.left)] for row in rows]


def _merge_pages(layer: Sequence[PageText], read: Sequence[PageText]) -> list[PageText]:
    by_number = {page.number: page for page in layer} | {page.number: page for page in read}
    return [by_number[number] for number in sorted(by_number)]


def _check_page_count(count: int, what: str) -> None:
    if count > settings.ocr_max_pages:
        raise ContentTooLarge(f"{count} {what}, over the OCR_MAX_PAGES cap of {settings.ocr_max_pages}")


def _check_pixels(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise UnsupportedContent(f"image has no pixels ({width}x{height})")
    if width * height > settings.ocr_max_pixels:
        raise ContentTooLarge(
            f"image is {width}x{height} ({width * height} pixels), "
            f"over the OCR_MAX_PIXELS cap of {settings.ocr_max_pixels}"
        )


def _decoded(image: Image.Image) -> Image.Image:
    """Decode the current frame fully, so truncated or corrupt data fails here with a clear reason."""
    if image.format == "JPEG":
        # Let libjpeg decode at a reduced scale straight away when the image is larger than OCR needs.
        image.draft("L", (settings.ocr_max_side, settings.ocr_max_side))
    try:
        image.load()
    except IMAGE_DECODE_ERRORS as exc:
        raise UnsupportedContent(f"image cannot be decoded ({exc})") from None
    return image


def _ocr_input(image: Image.Image) -> np.ndarray:
    """Greyscale pixels with the long side at most OCR_MAX_SIDE; transparency becomes white paper."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
    grey = image.convert("L")
    if max(grey.size) > settings.ocr_max_side:
        scale = settings.ocr_max_side / max(grey.size)
        grey = grey.resize(
            (max(1, round(grey.width * scale)), max(1, round(grey.height * scale))), Image.Resampling.LANCZOS
        )
    return np.asarray(grey)


def _rendered_pages(pdf_bytes: bytes, numbers: Sequence[int]) -> Iterator[tuple[int, Image.Image]]:
    # pdfium is not thread-safe: every call holds the lock, but OCR of a rendered page does not.
    with PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(pdf_bytes)
        except pdfium.PdfiumError as exc:
            raise UnsupportedContent(f"PDF cannot be read ({exc})") from None
    try:
        for number in numbers:
            with PDFIUM_LOCK:
                if not 1 <= number <= len(document):
                    raise UnsupportedContent(f"PDF has no page {number}")
                image = _render_page(document[number - 1], number)
            yield number, image
    finally:
        with PDFIUM_LOCK:
            document.close()


def _render_page(page: pdfium.PdfPage, number: int) -> Image.Image:
    try:
        width, height = page.get_size()
        if width <= 0 or height <= 0:
            raise UnsupportedContent(f"PDF page {number} has no area ({width}x{height} pt)")
        scale = min(
            RENDER_DPI / POINTS_PER_INCH,
            settings.ocr_max_side / max(width, height),
            math.sqrt(settings.ocr_max_pixels / (width * height)),
        )
        return page.render(scale=scale, grayscale=True).to_pil()
    except pdfium.PdfiumError as exc:
        raise UnsupportedContent(f"PDF page {number} cannot be rendered ({exc})") from None
    finally:
        page.close()
