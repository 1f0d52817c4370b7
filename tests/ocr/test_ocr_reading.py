"""How OCR output becomes page text: reading order, the confidence floor, and what real images give."""

from __future__ import annotations

from io import BytesIO

from PIL import Image

from bench.printed_text import render_text_image, words_found
from sie.core.pipeline import ocr_engine
from sie.core.pipeline.ocr import document_confidence, ocr_image_bytes, page_from_boxes
from sie.core.pipeline.types import OcrWord, PageText


def box(left: float, top: float, right: float, bottom: float) -> list[list[float]]:
    return [[left, top], [right, top], [right, bottom], [left, bottom]]


def test_boxes_are_read_in_rows_top_to_bottom_and_left_to_right() -> None:
    results = [
        (box(300, 12, 420, 40), "Total", 0.91),
        (box(10, 60, 120, 90), "Thank", 0.88),
        (box(10, 10, 200, 42), "Coffee beans", 0.97),
        (box(140, 58, 230, 92), "you", 0.93),
    ]
    page = page_from_boxes(results, number=3, floor=0.4)
    assert page.number == 3
    assert page.text == "Coffee beans Total\nThank you"


def test_words_under_the_floor_are_kept_aside_and_confidence_is_weighted_by_characters() -> None:
    results = [(box(0, 0, 100, 30), "Receipt", 0.9), (box(120, 0, 160, 30), "x7", 0.1)]
    page = page_from_boxes(results, number=1, floor=0.4)
    assert page.text == "Receipt"
    assert page.low_confidence_words == (OcrWord("x7", 0.1),)
    assert page.ocr_confidence == round((0.9 * 7 + 0.1 * 2) / 9, 3)


def test_a_page_where_nothing_was_read_has_zero_confidence() -> None:
    page = page_from_boxes([], number=1, floor=0.4)
    assert page.text == "" and page.ocr_confidence == 0.0


def test_document_confidence_counts_only_ocr_pages() -> None:
    pages = [
        PageText(number=1, text="a text layer page, not read by OCR"),
        PageText(number=2, text="abcd", ocr_confidence=0.9),
        PageText(number=3, text="ab", ocr_confidence=0.6, low_confidence_words=(OcrWord("zz", 0.2),)),
    ]
    assert document_confidence(pages) == round((0.9 * 4 + 0.6 * 4) / 8, 3)
    assert document_confidence(pages[:1]) is None


def test_small_print_is_still_read() -> None:
    # At 11 px the fast half-scale detection misses a third of these words (measured: 71 % found);
    # the full-scale pass that small boxes trigger must find them all.
    lines = ["Silver bridge over the river", "Garden window facing the market", "Doctor visits planet orange"]
    data = BytesIO()
    render_text_image(lines, font_size=11).save(data, "PNG")
    [page] = ocr_image_bytes(data.getvalue())
    assert words_found(" ".join(lines), page.text) >= 0.9, page.text


def test_every_frame_of_a_multi_page_tiff_is_a_page() -> None:
    first, second = ["Ledger page one"], ["Ledger page two"]
    data = BytesIO()
    render_text_image(first).save(data, "TIFF", save_all=True, append_images=[render_text_image(second)])
    pages = ocr_image_bytes(data.getvalue())
    assert [page.number for page in pages] == [1, 2]
    assert words_found(first[0], pages[0].text) == 1 and words_found(second[0], pages[1].text) == 1


def test_text_on_a_transparent_background_is_read() -> None:
    lines = ["Transparent sticker label"]
    ink = render_text_image(lines)
    transparent = Image.new("RGBA", ink.size, (0, 0, 0, 0))
    transparent.putalpha(Image.eval(ink, lambda value: 255 - value))  # opaque black ink only
    data = BytesIO()
    transparent.save(data, "PNG")
    [page] = ocr_image_bytes(data.getvalue())
    assert words_found(lines[0], page.text) >= 0.8, page.text


def test_torch_threads_follow_the_container_cpu_limit(tmp_path, monkeypatch) -> None:
    import torch

    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("100000 100000\n")  # a pod limited to one CPU, on a machine with more cores
    monkeypatch.setattr(ocr_engine, "CGROUP_CPU_MAX", cpu_max)
    previous = torch.get_num_threads()
    try:
        assert ocr_engine.select_device() == "cpu"
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(previous)
