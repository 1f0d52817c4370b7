"""The SIE operator: kopf reconciles IngestionSource, WorkerScaler, DeadLetterReplay (docs/operator.md)."""

from __future__ import annotations

from sie import __version__

GROUP = "sie.example.com"
VERSION = "v1alpha1"

__all__ = ["GROUP", "VERSION", "__version__"]
