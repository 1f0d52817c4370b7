"""What every body shares: the names of priorities, strategies and statuses, and `StrictModel`."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

PriorityName = Literal["low", "normal", "high"]
OcrStrategyName = Literal["auto", "ocr_only", "no_ocr"]
JobStatusName = Literal["pending", "running", "done", "failed", "dead"]


def _storable(value: object) -> object:
    """Refuse what PostgreSQL cannot store: NUL characters, unpaired surrogates, NaN and infinities.

    Walks nested metadata with its own stack, so depth costs no recursion.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ValueError("must not contain NUL characters")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("must not contain unpaired surrogate code points") from None
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError("must be a finite number")
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return value


class StrictModel(BaseModel):
    # A typo in a field name is an error the client should hear about, not a silent default.
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _values_are_storable(cls, value: object) -> object:
        return _storable(value)
