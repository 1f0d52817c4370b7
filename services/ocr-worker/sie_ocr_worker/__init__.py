"""The SIE OCR worker: Celery wiring over `sie.core.jobs` with the OCR text reader."""
