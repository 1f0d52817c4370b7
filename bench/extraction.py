"""Main-text extraction quality and speed: SIE's extractor against the libraries, on the same pages.

    .venv/bin/python bench/extraction.py [--data DIR] [--limit N] [--only NAME ...]

Pages and ground truth come from the article-extraction benchmark (121 news and blog pages with their
reference `articleBody`), read in place from `../shared/bench-data/article-extraction/` (or `--data`,
or `SIE_EXTRACTION_BENCH_DATA`); nothing of it is copied into the repository. Two measures, both
with F1 taken from mean precision and mean recall over pages, as the benchmark's own `evaluate.py`:

- shingles: the benchmark's measure, 4-word shingles (`\\w+` tokens, case kept), each page's counts
  normalised so that long pages weigh no more than short ones;
- tokens: lowercased words, multiset overlap per page.

Pages/second is the wall time of the extraction alone (pages already read and decompressed), one
core. The libraries (trafilatura, readability-lxml, resiliparse) are only needed for their own rows:
a row whose library is not installed says so. The run ends with language identification
(`bench/language_id.py`).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

# bench/ is on the path when this runs as a script, as the other benches run.
from language_id import print_language_identification

from sie.core.errors import EmptyContent
from sie.core.logging import configure_logging
from sie.core.pipeline.extract import extract

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "bench-data" / "article-extraction"
SHINGLE_WORDS = 4
WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Page:
    id: str
    html: str
    truth: str


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def load_pages(data: Path, limit: int | None = None) -> list[Page]:
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(truth)[:limit]:
        with gzip.open(data / "html" / f"{page_id}.html.gz", "rt", encoding="utf-8") as file:
            pages.append(Page(page_id, file.read(), truth[page_id].get("articleBody") or ""))
    return pages


def _shingles(text: str) -> Counter[tuple[str, ...]]:
    words = WORD.findall(text)
    return Counter(
        tuple(words[index : index + SHINGLE_WORDS]) for index in range(max(1, len(words) - SHINGLE_WORDS + 1))
    ) - Counter({(): 1})


def _tokens(text: str) -> Counter[str]:
    return Counter(word.lower() for word in WORD.findall(text))


def _page_precision_recall(true: Counter, predicted: Counter) -> tuple[float | None, float | None]:
    """Per page, as evaluate.py: precision is None when nothing was predicted (the page then counts for
    recall only), recall is None when the reference is empty."""
    overlap = sum((true & predicted).values())
    extra, missed = sum(predicted.values()) - overlap, sum(true.values()) - overlap
    if extra == missed == 0:
        return 1.0, 1.0
    precision = overlap / (overlap + extra) if overlap + extra else None
    recall = overlap / (overlap + missed) if overlap + missed else None
    return precision, recall


def score(pairs: Iterable[tuple[str, str]], counter: Callable[[str], Counter]) -> Score:
    precisions, recalls = [], []
    for true, predicted in pairs:
        precision, recall = _page_precision_recall(counter(true), counter(predicted))
        precisions += [] if precision is None else [precision]
        recalls += [] if recall is None else [recall]
    return Score(statistics.fmean(precisions), statistics.fmean(recalls))


# --- the extractors --------------------------------------------------------------------------------


def sie_text(html: str) -> str:
    try:
        return extract(html.encode("utf-8"), declared_type="text/html; charset=utf-8").text
    except EmptyContent:
        return ""


# The libraries are imported in their rows only: each is optional here, and SIE needs only one of them.


def trafilatura_with(**options: bool) -> Callable[[str], str]:
    def run(html: str) -> str:
        import trafilatura

        return trafilatura.extract(html, include_comments=False, **options) or ""

    return run


def readability_text(html: str) -> str:
    import lxml.html
    from readability import Document

    summary = Document(html).summary(html_partial=True)
    return lxml.html.fromstring(summary).text_content() if summary.strip() else ""


def resiliparse_text(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text

    return extract_plain_text(html, main_content=True)


EXTRACTORS: dict[str, Callable[[str], str]] = {
    "sie": sie_text,
    "trafilatura": trafilatura_with(),
    "trafilatura-precision": trafilatura_with(favor_precision=True),
    "trafilatura-recall": trafilatura_with(favor_recall=True),
    "readability-lxml": readability_text,
    "resiliparse": resiliparse_text,
}


def run_extractor(extractor: Callable[[str], str], pages: list[Page]) -> tuple[list[str], float]:
    extractor(pages[0].html)  # imports and first-call set-up are not the extractor's steady speed
    started = time.perf_counter()
    texts = [extractor(page.html) for page in pages]
    return texts, len(pages) / (time.perf_counter() - started)


def print_extraction(pages: list[Page], names: list[str]) -> None:
    print(f"Main text: {len(pages)} pages of the article-extraction benchmark")
    print(
        f"{'extractor':<22} {'shingle P':>9} {'R':>6} {'F1':>6}   {'token P':>7} {'R':>6} {'F1':>6}  pages/s"
    )
    for name in names:
        try:
            texts, pages_per_second = run_extractor(EXTRACTORS[name], pages)
        except ImportError as exc:
            print(f"{name:<22} not installed ({exc.name})")
            continue
        pairs = [(page.truth, text) for page, text in zip(pages, texts, strict=True)]
        shingles, tokens = score(pairs, _shingles), score(pairs, _tokens)
        print(
            f"{name:<22} {shingles.precision:>9.3f} {shingles.recall:>6.3f} {shingles.f1:>6.3f}   "
            f"{tokens.precision:>7.3f} {tokens.recall:>6.3f} {tokens.f1:>6.3f}  {pages_per_second:>7.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("SIE_EXTRACTION_BENCH_DATA", DEFAULT_DATA))
    )
    parser.add_argument("--limit", type=int, help="only the first N pages (a quick look while developing)")
    parser.add_argument("--only", nargs="+", choices=sorted(EXTRACTORS), help="only these extractors")
    parser.add_argument("--no-language", action="store_true", help="skip language identification")
    args = parser.parse_args()

    configure_logging("warning")
    print_extraction(load_pages(args.data, args.limit), args.only or list(EXTRACTORS))
    if not args.no_language:
        print()
        print_language_identification()


if __name__ == "__main__":
    main()
