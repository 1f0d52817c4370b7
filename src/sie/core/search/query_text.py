"""The query language of the database backends, read once and rendered for PostgreSQL and FTS5.

One reading of the user's text, so both dialects match the same documents:

- words must all match; `"a quoted phrase"` matches its words in that order;
- `or` between two terms starts an alternative (`rain or snow`);
- `-word` and `-"a phrase"` exclude documents that match them;
- the last word is a prefix (search as you type, as Meilisearch): `searc` finds "searching",
  unless it is quoted, excluded, or shorter than MIN_PREFIX_CHARS.

A word is a run of letters and digits; anything else separates words, so no user text is ever
an operator of either dialect: `e-mail` or `title:report` is read as the phrase "e mail" or
"title report". Both renderings quote every word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# One letter matches a large part of the vocabulary, and a prefix's cost grows with the words it
# covers (every posting list of every matching word is read): from two letters, typing narrows.
MIN_PREFIX_CHARS = 2

# A quoted phrase (its closing quote optional), possibly negated, or a run of non-space.
_TOKEN = re.compile(r'(?P<negated>-)?"(?P<phrase>[^"]*)"?|(?P<bare>\S+)')
# Letters and digits; `_` separates, as in both dialects' tokenizers.
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Term:
    """One word, or a phrase's words in order; with `prefix`, the last word matches any word it begins."""

    words: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True)
class QueryText:
    """Matches when every term of any alternative matches and no excluded term does."""

    alternatives: tuple[tuple[Term, ...], ...]
    excluded: tuple[Term, ...] = ()


def parse(q: str) -> QueryText | None:
    """Read the user's text; None when nothing searchable is left (only operators, or only exclusions)."""
    alternatives: list[list[Term]] = [[]]
    excluded: list[Term] = []
    tokens = list(_TOKEN.finditer(q))
    for position, token in enumerate(tokens):
        bare = token.group("bare")
        if bare is not None and bare.lower() == "or":
            if alternatives[-1]:
                alternatives.append([])
            continue
        negated = token.group("negated") is not None or (bare is not None and bare.startswith("-"))
        words = tuple(_WORD.findall(token.group("phrase") if bare is None else bare))
        if not words:
            continue
        last = position == len(tokens) - 1
        prefix = last and bare is not None and not negated and len(words[-1]) >= MIN_PREFIX_CHARS
        (excluded if negated else alternatives[-1]).append(Term(words, prefix))
    groups = tuple(tuple(group) for group in alternatives if group)
    if not groups:
        return None
    return QueryText(groups, tuple(excluded))


def fts5_expression(query: QueryText) -> str:
    """An FTS5 MATCH expression: every term a quoted string (`"e mail"`), a prefix `"searc"*`."""
    groups = " OR ".join(
        "(" + " AND ".join(_fts5_term(term) for term in group) + ")" for group in query.alternatives
    )
    for term in query.excluded:
        groups = f"({groups}) NOT {_fts5_term(term)}"
    return groups


def tsquery_text(query: QueryText) -> str:
    """Text for `to_tsquery`: every word a quoted lexeme, phrases joined by `<->`, a prefix `'searc':*`.

    `to_tsquery` stems each lexeme with the configuration of the stored vector, prefixes included
    (`'searching':*` is `'search':*`), and leaves stop words out: a term of stop words only is
    ignored, as `websearch_to_tsquery` ignores it, and a query of nothing else matches nothing.
    """
    groups = " | ".join(
        "(" + " & ".join(_tsquery_term(term) for term in group) + ")" for group in query.alternatives
    )
    excluded = "".join(f" & !({_tsquery_term(term)})" for term in query.excluded)
    return f"({groups}){excluded}"


def _fts5_term(term: Term) -> str:
    quoted = '"' + " ".join(term.words).replace('"', '""') + '"'
    return quoted + "*" if term.prefix else quoted


def _tsquery_term(term: Term) -> str:
    # Words hold no quote or backslash (see _WORD); escaping them anyway keeps this safe on its own.
    lexemes = ["'" + word.replace("\\", "\\\\").replace("'", "''") + "'" for word in term.words]
    if term.prefix:
        lexemes[-1] += ":*"
    return " <-> ".join(lexemes)
