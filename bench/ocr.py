"""OCR speed and memory on this machine: cold start, warm seconds per receipt, pages/minute, peak RSS.

    .venv/bin/python bench/ocr.py [--device cpu|cuda|auto] [--threads N] [--repeats 5] [--pages 4]

Cold: importing torch + EasyOCR, loading the model, and the first receipt. Warm: the same
receipt-sized image (600 x 800, eleven lines, from `make_sample_images.py`) again and again, with
wall and CPU seconds each (CPU above wall x threads means the machine's cores were busy elsewhere).
Pages/minute: a scanned PDF of A4 pages (no text layer), rendered and read page by page. The model
must load exactly once: the process's `reader_loads()` counter is printed and checked.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

from make_sample_images import RECEIPT_LINES, RECEIPT_SIZE
from printed_text import render_text_image, scanned_pdf, words_found

A4_AT_150_DPI = (1240, 1754)
PAGE_LINES = [
    "Minutes of the harbour committee meeting held on Tuesday",
    "The committee approved the budget for the northern pier",
    "Repairs to the lighthouse will start in early September",
    "The ferry company asked for a longer lease on berth four",
    "Members agreed to review the fishing quotas next spring",
    "A new footbridge will connect the market to the station",
    "The chair thanked the volunteers of the rescue station",
    "Next meeting on the first Monday of the coming month",
] * 3


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_call(function, *args):
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = function(*args)
    return result, time.perf_counter() - wall, cpu_seconds() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--repeats", type=int, default=5, help="warm runs of the receipt")
    parser.add_argument("--pages", type=int, default=4, help="pages of the scanned PDF")
    args = parser.parse_args()
    os.environ["OCR_DEVICE"] = args.device  # settings are read once, at the first `sie` import

    from sie.core.logging import configure_logging

    configure_logging("warning")
    receipt = render_text_image(RECEIPT_LINES, font_size=26, width=RECEIPT_SIZE[0], height=RECEIPT_SIZE[1])
    page = render_text_image(PAGE_LINES, font_size=28, width=A4_AT_150_DPI[0], height=A4_AT_150_DPI[1])
    pdf = scanned_pdf([page] * args.pages)

    started = time.perf_counter()
    import easyocr  # noqa: F401 - timed: the import is part of a cold start
    import torch

    import_seconds = time.perf_counter() - started
    if args.threads:
        torch.set_num_threads(args.threads)
    from sie.core.pipeline import ocr, ocr_engine

    _, load_seconds, _ = timed_call(ocr_engine.get_reader)
    first, first_seconds, _ = timed_call(ocr.ocr_image, receipt)

    warm = [timed_call(ocr.ocr_image, receipt) for _ in range(args.repeats)]
    warm_wall = [wall for _, wall, _ in warm]
    warm_cpu = [cpu for _, _, cpu in warm]
    pages, pdf_seconds, pdf_cpu = timed_call(ocr.ocr_pdf_pages, pdf, list(range(1, args.pages + 1)))

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    device = ocr_engine.get_reader().device
    print(f"device                 {device} (torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs)")
    print(f"load average (1 min)   {os.getloadavg()[0]:.2f}")
    print(f"cold: import           {import_seconds:.2f} s (torch + EasyOCR)")
    print(f"cold: model load       {load_seconds:.2f} s")
    print(
        f"cold: first receipt    {first_seconds:.2f} s; "
        f"words {words_found(' '.join(RECEIPT_LINES), first.text):.0%} found"
    )
    print(
        f"warm: receipt 600x800  median {statistics.median(warm_wall):.2f} s, best {min(warm_wall):.2f} s, "
        f"worst {max(warm_wall):.2f} s; CPU {statistics.median(warm_cpu):.2f} s ({args.repeats} runs)"
    )
    print(f"warm: receipt words    {words_found(' '.join(RECEIPT_LINES), warm[-1][0].text):.0%} found")
    print(
        f"scanned PDF            {args.pages} A4 pages in {pdf_seconds:.1f} s: "
        f"{args.pages / pdf_seconds * 60:.1f} pages/minute (CPU {pdf_cpu:.1f} s); "
        f"words {statistics.mean(words_found(' '.join(PAGE_LINES), p.text) for p in pages):.0%} found"
    )
    print(f"peak RSS               {peak_rss_mb:.0f} MB")
    print(f"model loads            {ocr_engine.reader_loads()}")
    if ocr_engine.reader_loads() != 1:
        raise SystemExit("the model was loaded more than once")


if __name__ == "__main__":
    main()
