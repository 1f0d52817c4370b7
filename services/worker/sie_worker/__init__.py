"""The SIE general worker: Celery wiring over `sie.core.engine.jobs`."""
