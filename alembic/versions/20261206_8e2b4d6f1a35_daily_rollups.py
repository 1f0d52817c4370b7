"""daily rollups: sentiment and entities per tenant, UTC day and source, filled from the documents

The insights endpoints read these instead of aggregating every document; entities also per day
with every source added up, for calls without a source filter. The upgrade fills them from the
documents already stored (one INSERT ... SELECT per table: a scan of `documents` and
`document_entities`, then of the per-source entity rows); from then on the store and delete paths
keep them in step.

Revision ID: 8e2b4d6f1a35
Revises: 7c4f1a9e2b60
Create Date: 2026-12-06 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '8e2b4d6f1a35'
down_revision: str | None = '7c4f1a9e2b60'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The UTC day of `documents.created_at`, as `sie.core.repository.rollups.utc_day` was when this
# migration was written. SQLite holds the UTC time as text.
UTC_DAY = {
    "postgresql": "CAST(timezone('UTC', d.created_at) AS DATE)",
    "sqlite": "date(d.created_at)",
}
FILL_SENTIMENT = """
INSERT INTO sentiment_rollups
    (tenant, day, source, positive, neutral, negative, unscored, scored, compound_sum)
SELECT d.tenant, {day}, d.source,
    sum(CASE WHEN d.sentiment_label = 'positive' THEN 1 ELSE 0 END),
    sum(CASE WHEN d.sentiment_label = 'neutral' THEN 1 ELSE 0 END),
    sum(CASE WHEN d.sentiment_label = 'negative' THEN 1 ELSE 0 END),
    sum(CASE WHEN d.sentiment_label IS NULL THEN 1 ELSE 0 END),
    count(d.sentiment_compound),
    coalesce(sum(d.sentiment_compound), 0)
FROM documents d
WHERE d.status = 'done'
GROUP BY 1, 2, 3
"""
FILL_ENTITIES = """
INSERT INTO entity_rollups (tenant, day, source, text, label, documents, mentions)
SELECT d.tenant, {day}, d.source, e.text, e.label, count(DISTINCT d.id), sum(e.count)
FROM documents d JOIN document_entities e ON e.document_id = d.id
WHERE d.status = 'done'
GROUP BY 1, 2, 3, 4, 5
"""
FILL_ENTITY_DAYS = """
INSERT INTO entity_day_rollups (tenant, day, text, label, documents, mentions)
SELECT tenant, day, text, label, sum(documents), sum(mentions)
FROM entity_rollups
GROUP BY 1, 2, 3, 4
"""


def upgrade() -> None:
    op.create_table('sentiment_rollups',
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('positive', sa.Integer(), nullable=False),
    sa.Column('neutral', sa.Integer(), nullable=False),
    sa.Column('negative', sa.Integer(), nullable=False),
    sa.Column('unscored', sa.Integer(), nullable=False),
    sa.Column('scored', sa.Integer(), nullable=False),
    sa.Column('compound_sum', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('tenant', 'day', 'source', name=op.f('pk_sentiment_rollups'))
    )
    op.create_table('entity_rollups',
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('text', sa.String(length=300), nullable=False),
    sa.Column('label', sa.String(length=30), nullable=False),
    sa.Column('documents', sa.Integer(), nullable=False),
    sa.Column('mentions', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('tenant', 'day', 'source', 'text', 'label', name=op.f('pk_entity_rollups'))
    )
    op.create_table('entity_day_rollups',
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('text', sa.String(length=300), nullable=False),
    sa.Column('label', sa.String(length=30), nullable=False),
    sa.Column('documents', sa.Integer(), nullable=False),
    sa.Column('mentions', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('tenant', 'day', 'text', 'label', name=op.f('pk_entity_day_rollups'))
    )
    day = UTC_DAY[op.get_bind().dialect.name]
    op.execute(FILL_SENTIMENT.format(day=day))
    op.execute(FILL_ENTITIES.format(day=day))
    op.execute(FILL_ENTITY_DAYS)
    # The ranking indexes once the rows are in: one sort each, not one insertion per row.
    op.create_index('ix_entity_rollups_ranking', 'entity_rollups', ['tenant', 'source', 'day', 'documents', 'mentions'], unique=False)
    op.create_index('ix_entity_day_rollups_ranking', 'entity_day_rollups', ['tenant', 'day', 'documents', 'mentions'], unique=False)


def downgrade() -> None:
    op.drop_table('entity_day_rollups')
    op.drop_table('entity_rollups')
    op.drop_table('sentiment_rollups')
