"""Bounds as regular expressions: how a schema says "a duration from 1m to 30d" of a string.

JSON Schema bounds numbers (`minimum`, `maximum`), not the numbers written inside a string; a
pattern that matches exactly the numbers in range says it instead.
"""

from __future__ import annotations

from sie.core.durations import DURATION_UNITS


def _same_width(low: str, high: str) -> list[str]:
    """Alternatives matching the digit strings from `low` to `high`, both of one width."""
    if not low:
        return [""]
    if low[0] == high[0]:
        return [low[0] + rest for rest in _same_width(low[1:], high[1:])]
    width = len(low) - 1
    zeros, nines = "0" * width, "9" * width
    any_rest = f"[0-9]{{{width}}}" if width else ""  # not `\d`: Python's matches every script's digits
    parts: list[str] = []
    first, last = int(low[0]), int(high[0])
    if low[1:] != zeros:
        parts += [low[0] + rest for rest in _same_width(low[1:], nines)]
        first += 1
    if high[1:] != nines:
        last -= 1
    if first <= last:
        parts.append(f"[{first}-{last}]{any_rest}")
    if high[1:] != nines:
        parts += [high[0] + rest for rest in _same_width(zeros, high[1:])]
    return parts


def number_pattern(low: int, high: int) -> str:
    """A regex alternation for the whole numbers from `low` to `high` (0 ≤ low ≤ high), written
    without leading zeros."""
    parts: list[str] = []
    for width in range(len(str(low)), len(str(high)) + 1):
        first = max(low, 10 ** (width - 1) if width > 1 else 0)
        last = min(high, 10**width - 1)
        parts += _same_width(str(first), str(last))
    return "|".join(parts)


def duration_pattern(low_seconds: int, high_seconds: int) -> str:
    """`90s`, `5m`, `2h`, `1d` or bare seconds, each within [low, high]: the one-unit spellings of
    `sie.core.durations` (which also reads compound ones such as `1h30m`)."""
    spellings = []
    for unit, size in DURATION_UNITS.items():
        low, high = -(-low_seconds // size), high_seconds // size
        if low <= high:
            suffix = "s?" if unit == "s" else unit
            spellings.append(f"(?:{number_pattern(low, high)}){suffix}")
    return f"^(?:{'|'.join(spellings)})$"
