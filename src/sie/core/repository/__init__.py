"""Data access: keyword-only functions that take the session explicitly (documents, jobs, dead letters,
idempotency records, insights), or the connection (intake: the accept path's one insert statement).
Routes and the engine call these; they hold no SQL of their own."""
