"""SIE's language identification before issue 15, kept only as the language bench's baseline.

It judged a text by how many of its words are stopwords of en/de/fr/es/it/nl/pt; the product now
uses a library covering far more languages (`sie.core.pipeline.language`, docs/extraction.md).
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import islice


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words(
        "the and of to in is that it for was on with as are be this by at from or have not but "
        "they you he she we his her their which an has had were been would will there what about "
        "who can all my our if so than its do does into when"
    ),
    "de": _words(
        "der die das und ist nicht ein eine einen dem den des mit sich auf für von zu im auch "
        "es sie er wir ich war sind wird werden hat haben aber oder wie nach bei aus noch nur "
        "einer über so dass kann vor durch wenn schon"
    ),
    "fr": _words(
        "le la les et est un une des du de dans pour pas que qui sur au aux avec ce cette il "
        "elle ils nous vous je sont été par plus mais ou son sa ses leur ont avait être fait "
        "comme tout très aussi"
    ),
    "es": _words(
        "el la los las y es un una de del en que por para con no se su sus al lo como más pero "
        "fue son está este esta ha han ser muy también cuando sobre entre hay yo ella ellos"
    ),
    "it": _words(
        "il lo la gli le e è un una di del della dei delle in che per con non si sono ma come "
        "anche più questo questa nel nella alla al sul ha hanno essere stato molto io lui lei"
    ),
    "nl": _words(
        "de het een en is van in dat op te zijn met voor niet aan er ook als maar om bij nog "
        "door naar dan wat wordt werd hij zij wij ik heeft hebben was waren deze dit"
    ),
    "pt": _words(
        "o a os as e é um uma de do da dos das em no na nos nas que para com não se por mais "
        "mas como foi são está ao ele ela eles também muito pelo pela isso este esta"
    ),
}
# A word shared by several languages (de, la, en, ...) is evidence split among them.
LANGUAGES_BY_STOPWORD: dict[str, tuple[str, ...]] = {
    word: tuple(language for language, stopwords in STOPWORDS.items() if word in stopwords)
    for word in frozenset().union(*STOPWORDS.values())
}
WORD = re.compile(r"[^\W\d_]+")
# Enough words to be sure, few enough to stay fast on a whole book.
MAX_WORDS = 2000
MIN_STOPWORD_HITS = 3
MIN_STOPWORD_SHARE = 0.15
# The winner's evidence must clearly beat the runner-up's.
MIN_LEAD_RATIO = 1.5


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of `text`'s language among en/de/fr/es/it/nl/pt, or None when unsure."""
    words = [match.group(0).lower() for match in islice(WORD.finditer(text), MAX_WORDS)]
    hits: Counter[str] = Counter()
    evidence: Counter[str] = Counter()
    for word, count in Counter(words).items():
        languages = LANGUAGES_BY_STOPWORD.get(word, ())
        for language in languages:
            hits[language] += count
            evidence[language] += count / len(languages)
    ranked = evidence.most_common(2)
    if not ranked:
        return None
    best, best_evidence = ranked[0]
    runner_up_evidence = ranked[1][1] if len(ranked) > 1 else 0.0
    if hits[best] < MIN_STOPWORD_HITS or hits[best] < MIN_STOPWORD_SHARE * len(words):
        return None
    if best_evidence < MIN_LEAD_RATIO * runner_up_evidence:
        return None
    return best
