"""The bundled sample corpus, and how the demo treats sample images with and without the OCR extra."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from sie.demo import corpus
from tests.utils.files import make_png


def test_bundled_corpus_holds_text_pages_and_both_feed_formats() -> None:
    inputs, _ = corpus.corpus_inputs()
    suffixes = Counter(upload.path.suffix for upload in inputs.uploads)
    feeds = Counter(document.body["source"] for document in inputs.documents)
    assert suffixes[".txt"] >= 10 and suffixes[".html"] >= 8
    assert feeds == {"feed:regional-wire": 4, "feed:energy-desk": 4}
    assert all(document.body.get("text") for document in inputs.documents)
    assert inputs.total >= 24 and not inputs.rejected


@pytest.fixture
def samples_with_an_image(tmp_path: Path) -> Path:
    (tmp_path / "news").mkdir()
    (tmp_path / "news" / "story.txt").write_text("The harbour in Bergen reopened on Friday.")
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "scan.png").write_bytes(make_png())
    return tmp_path


def test_images_are_skipped_with_a_note_without_the_ocr_extra(
    samples_with_an_image: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(corpus, "ocr_available", lambda: False)
    inputs, note = corpus.corpus_inputs(samples_with_an_image)
    assert [upload.path.name for upload in inputs.uploads] == ["story.txt"]
    assert note is not None and "1 sample image(s) skipped" in note and "OCR extra" in note


def test_images_are_uploaded_for_ocr_when_the_extra_is_installed(
    samples_with_an_image: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(corpus, "ocr_available", lambda: True)
    inputs, note = corpus.corpus_inputs(samples_with_an_image)
    assert [upload.path.name for upload in inputs.uploads] == ["story.txt", "scan.png"]
    assert note is None
