"""Durations as people write them in source specs and CRDs: `90`, `"90s"`, `"5m"`, `"1h30m"`, `"1d"`."""

from __future__ import annotations

import re

DURATION_PART = re.compile(r"(\d+)([smhd])")
DURATION_UNITS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}


def parse_duration(value: str | int) -> int:
    """Seconds in `90`, `"90s"`, `"5m"`, `"1h30m"` or `"1d"`."""
    if isinstance(value, int):
        seconds = value
    else:
        text = value.strip().lower()
        if text.isdigit():
            seconds = int(text)
        else:
            parts = DURATION_PART.findall(text)
            if not parts or "".join(number + unit for number, unit in parts) != text:
                raise ValueError(f"{value!r} is not a duration like 90s, 5m, 1h30m or 1d")
            seconds = sum(int(number) * DURATION_UNITS[unit] for number, unit in parts)
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


def format_duration(seconds: int) -> str:
    """The shortest spelling `parse_duration` reads back: 300 → `5m`, 5400 → `1h30m`."""
    parts = []
    for unit, size in DURATION_UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
