"""Data access: keyword-only functions that take the session explicitly (documents, jobs, dead letters,
idempotency records, insights). Routes and the engine call these; they hold no SQL of their own."""
