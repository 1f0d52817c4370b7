"""The engine: accepting documents, running jobs, the outbox relay, dead letters and the source scheduler.

It stands above every other part of the core (see docs/architecture.md)."""
