"""The SIE OCR worker: Celery wiring over `sie.core.engine.jobs` with the OCR text reader."""
