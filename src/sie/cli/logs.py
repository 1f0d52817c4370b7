"""Logging for the commands that run a process or touch the database: the same JSON lines as the services."""

from __future__ import annotations

from sie.core.config import settings
from sie.core.logging import configure_logging


def setup_logging() -> None:
    configure_logging(settings.log_level)
