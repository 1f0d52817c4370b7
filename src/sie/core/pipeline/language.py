"""Which language a text is in: py3langid, a naive Bayes model over byte n-grams for 97 languages.

Chosen by measurement (bench/language_id.py, docs/extraction.md): as accurate as any library we
could install on short texts in 31 languages, thousands of texts per second, its model inside the
wheel (nothing downloads), and a calibrated probability, so that "unsure" can be said.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

# The beginning of a text decides: more changes nothing but the time a whole book would take.
MAX_CHARS = 5000
# Below this probability the text is too short or too mixed to tell ("Hello", a list of names).
MIN_CONFIDENCE = 0.1
# py3langid's codes where spaCy names the language otherwise (Norwegian Bokmål is nb_core_news_*).
ALIASES = {"no": "nb"}
# "No linguistic content" and "undetermined" (py3langid's answer below MIN_CONFIDENCE).
NOT_A_LANGUAGE = frozenset({"zxx", "und"})

_identifier: LanguageIdentifier | None = None
_identifier_lock = threading.Lock()


def load_identifier() -> LanguageIdentifier:
    """The process's language model, read from the wheel on the first call only (~0.5 s, ~75 MB)."""
    global _identifier
    if _identifier is not None:
        return _identifier
    # Optional heavy dependency (the `worker` extra): numpy and a 100k-feature model, needed only
    # by the processes that enrich.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    with _identifier_lock:
        if _identifier is None:
            _identifier = LanguageIdentifier.from_model_file(
                MODEL_FILE, norm_probs=True, min_confidence=MIN_CONFIDENCE
            )
        return _identifier


def detect_language(text: str) -> str | None:
    """ISO 639 code of `text`'s language (639-1 where one exists), or None when unsure."""
    sample = text[:MAX_CHARS]
    if not any(character.isalpha() for character in sample):
        return None
    code, _ = load_identifier().classify(sample)
    if code in NOT_A_LANGUAGE:
        return None
    return ALIASES.get(code, code)
