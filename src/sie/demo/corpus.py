"""The bundled sample corpus (`sie/samples/`) as ingest inputs.

News articles (`news/*.txt`, one of them a deliberately re-wrapped copy of another, which must end
as a duplicate), web pages (`pages/*.html`, with navigation, cookie banners and scripts that
extraction must drop), an RSS and an Atom feed (`feeds/*.xml`) whose items become documents, and
images (`images/`) when present and the OCR extra is installed.
"""

from __future__ import annotations

import importlib.util
from importlib.resources import files
from pathlib import Path

from sie.ingest_client import Inputs, collect_inputs

TEXT_SAMPLE_FOLDERS = ("news", "pages", "feeds")
IMAGE_SAMPLE_FOLDER = "images"


def samples_dir() -> Path:
    return Path(str(files("sie") / "samples"))


def ocr_available() -> bool:
    return importlib.util.find_spec("easyocr") is not None


def corpus_inputs(samples: Path | None = None) -> tuple[Inputs, str | None]:
    """The sample corpus as ingest inputs, and a note when its images are skipped."""
    samples = samples or samples_dir()
    folders = [str(samples / folder) for folder in TEXT_SAMPLE_FOLDERS]
    images = samples / IMAGE_SAMPLE_FOLDER
    image_count = sum(1 for path in images.rglob("*") if path.is_file()) if images.is_dir() else 0
    note = None
    if image_count and ocr_available():
        folders.append(str(images))
    elif image_count:
        note = (
            f"{image_count} sample image(s) skipped: the OCR extra is not installed "
            "(pip install -e '.[ocr]' adds EasyOCR)"
        )
    return collect_inputs(folders), note
