"""The SIE general worker: Celery wiring over `sie.core.jobs`."""
