"""Images and scanned PDFs become searchable: upload → OCR (real EasyOCR) → enrich → store → index."""

from __future__ import annotations

import pytest

from bench.printed_text import concatenate_pdfs, encode, render_text_image, scanned_pdf, words_found
from sie.core.config import settings
from sie.core.pipeline.ocr import ocr_image_bytes
from sie.core.pipeline.ocr_engine import reader_loads
from sie.core.queues import QUEUE_NORMAL, QUEUE_OCR
from tests.ocr.conftest import Uploader
from tests.utils.files import make_text_pdf

# Distinct words per test, so a search hit can only come from the document that test uploaded.
LINES_BY_FORMAT = {
    "PNG": ["Harbour lighthouse keeper", "Tuesday morning fog"],
    "JPEG": ["Orchard cider festival", "Saturday market square"],
    "TIFF": ["Glacier expedition report", "Northern camp supplies"],
    "WEBP": ["Violin concert tickets", "Riverside theatre balcony"],
}


@pytest.mark.parametrize("image_format", list(LINES_BY_FORMAT))
def test_uploaded_image_is_read_enriched_and_searchable(uploader: Uploader, image_format: str) -> None:
    lines = LINES_BY_FORMAT[image_format]
    data = encode(render_text_image(lines), image_format)
    accepted = uploader.upload(data, f"note.{image_format.lower()}")
    assert uploader.job(accepted)["queue"] == QUEUE_OCR  # images go straight to the OCR workers

    uploader.process(accepted)

    assert uploader.job(accepted)["status"] == "done"
    document = uploader.document(accepted)
    assert document["status"] == "done" and document["content_type"] == f"image/{image_format.lower()}"
    assert words_found(" ".join(lines), document["text"]) >= 0.8, document["text"]
    assert document["keywords"] and document["sentiment"] is not None  # enriched like any other document
    extraction = document["extraction"]
    assert 0.5 < extraction["ocr_confidence"] <= 1
    assert [page["number"] for page in extraction["pages"]] == [1]
    assert extraction["pages"][0]["ocr_confidence"] > 0.5
    assert uploader.search(lines[0].split()[0]) == [accepted["document_id"]]


def test_scanned_pdf_is_routed_from_the_general_worker_to_ocr(uploader: Uploader) -> None:
    first = ["Meadow beekeeping notes", "Honey harvest August"]
    second = ["Copper kettle repairs", "Workshop invoice paid"]
    data = scanned_pdf([render_text_image(first), render_text_image(second)])
    accepted = uploader.upload(data, "scan.pdf")
    assert uploader.job(accepted)["queue"] == QUEUE_NORMAL  # a PDF may have a text layer: general worker

    uploader.process(accepted)

    job = uploader.job(accepted)
    assert job["status"] == "done" and job["queue"] == QUEUE_OCR
    document = uploader.document(accepted)
    assert document["content_type"] == "application/pdf"
    assert words_found(" ".join(first + second), document["text"]) >= 0.8, document["text"]
    pages = document["extraction"]["pages"]
    assert [page["number"] for page in pages] == [1, 2]
    assert all(page["ocr_confidence"] > 0.5 for page in pages)
    assert uploader.search("beekeeping") == [accepted["document_id"]]
    assert uploader.search("kettle") == [accepted["document_id"]]


def mixed_pdf(typed: str, scanned_lines: list[str]) -> bytes:
    return concatenate_pdfs(make_text_pdf([typed]), scanned_pdf([render_text_image(scanned_lines)]))


def test_auto_keeps_the_text_layer_and_reads_only_the_scanned_page(uploader: Uploader) -> None:
    typed = "Typed minutes of the sailing club meeting"
    scanned = ["Handwritten regatta results", "Trophy engraving"]
    accepted = uploader.upload(mixed_pdf(typed, scanned), "mixed.pdf", ocr_strategy="auto")

    uploader.process(accepted)

    document = uploader.document(accepted)
    assert document["status"] == "done"
    assert document["text"].startswith(typed)  # the text layer verbatim
    typed_page, scanned_page = document["extraction"]["pages"]
    assert typed_page["ocr_confidence"] is None and scanned_page["ocr_confidence"] > 0.5
    assert words_found(" ".join(scanned), document["text"]) >= 0.8, document["text"]
    assert uploader.search("regatta") == [accepted["document_id"]]


def test_ocr_only_reads_every_page_even_with_a_text_layer(
    uploader: Uploader, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pages render at most this many pixels high: 12 pt type still reads, in a third of the time.
    monkeypatch.setattr(settings, "ocr_max_side", 1200)
    typed = "Typed greenhouse tomato inventory"
    scanned = ["Scanned compost delivery", "Wheelbarrow rental"]
    accepted = uploader.upload(mixed_pdf(typed, scanned), "mixed.pdf", ocr_strategy="ocr_only")
    assert uploader.job(accepted)["queue"] == QUEUE_OCR

    uploader.process(accepted)

    document = uploader.document(accepted)
    assert document["status"] == "done"
    assert all(page["ocr_confidence"] is not None for page in document["extraction"]["pages"])
    assert words_found(typed + " " + " ".join(scanned), document["text"]) >= 0.8, document["text"]


def test_no_ocr_leaves_a_scanned_pdf_without_text_and_fails_it(uploader: Uploader) -> None:
    data = scanned_pdf([render_text_image(["Silent scanned page"])])
    accepted = uploader.upload(data, "scan.pdf", ocr_strategy="no_ocr")
    sent_before = len(uploader.queue.sent)

    uploader.process(accepted)

    job = uploader.job(accepted)
    assert job["status"] == "failed" and job["queue"] == QUEUE_NORMAL
    assert "no text found" in job["error"]
    assert uploader.queue.sent[sent_before:] == []  # never routed to the OCR workers


def test_words_below_the_confidence_floor_are_stored_but_not_indexed(
    uploader: Uploader, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = encode(render_text_image(["Pelican waterfront ferry", "Lantern harbour crossing"]), "PNG")
    # Learn what the model reads on this image and how sure it is, then put the floor between the two lines.
    monkeypatch.setattr(settings, "ocr_confidence_floor", 1.0)
    [reading] = ocr_image_bytes(data)
    surest, weakest = sorted(reading.low_confidence_words, key=lambda word: word.confidence, reverse=True)
    assert surest.confidence - weakest.confidence > 0.001
    monkeypatch.setattr(settings, "ocr_confidence_floor", (surest.confidence + weakest.confidence) / 2)

    accepted = uploader.upload(data, "note.png")
    uploader.process(accepted)

    document = uploader.document(accepted)
    assert document["status"] == "done"
    assert document["text"] == surest.text
    [page] = document["extraction"]["pages"]
    assert page["low_confidence_words"] == [{"text": weakest.text, "confidence": weakest.confidence}]
    assert uploader.search(surest.text.split()[0]) == [accepted["document_id"]]
    assert uploader.search(weakest.text.split()[0]) == []


def test_the_model_is_loaded_once_per_process_across_jobs(uploader: Uploader) -> None:
    for lines in (["Granite quarry tour"], ["Saffron spice merchant"]):
        accepted = uploader.upload(encode(render_text_image(lines), "PNG"), "note.png")
        uploader.process(accepted)
        assert uploader.job(accepted)["status"] == "done"
    assert reader_loads() == 1
