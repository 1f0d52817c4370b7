"""documents.search_vector: a stored, weighted tsvector (title A, text B) with its GIN index

Replaces the GIN expression index: ranking read `to_tsvector` again for every matching row, and the
title weighed no more than the text. Adding a stored generated column rewrites `documents` once
(minutes per million rows, under an exclusive lock). SQLite searches its FTS5 table instead.

Revision ID: 7c4f1a9e2b60
Revises: 3b7d0e5a9c21
Create Date: 2026-12-06 11:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '7c4f1a9e2b60'
down_revision: str | None = '3b7d0e5a9c21'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As `sie.core.models.documents.DOCUMENT_SEARCH_VECTOR_SQL` was when this migration was written.
SEARCH_VECTOR = (
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(text, '')), 'B')"
)
# The initial migration's expression index, restored by the downgrade.
EXPRESSION_INDEX = (
    "CREATE INDEX ix_documents_search ON documents USING gin "
    "(to_tsvector('english', coalesce(title, '') || ' ' || coalesce(text, '')))"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_documents_search")
    op.execute(
        "ALTER TABLE documents ADD COLUMN search_vector tsvector "
        f"GENERATED ALWAYS AS ({SEARCH_VECTOR}) STORED"
    )
    op.execute("CREATE INDEX ix_documents_search ON documents USING gin (search_vector)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_documents_search")
    op.execute("ALTER TABLE documents DROP COLUMN search_vector")
    op.execute(EXPRESSION_INDEX)
