"""page metadata on documents: author, publication date, canonical URL, site name, description

Revision ID: 5d2e8c1f7a94
Revises: 9cbbeebda1b5
Create Date: 2026-12-06 08:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sie.core.models

revision: str = '5d2e8c1f7a94'
down_revision: str | None = '9cbbeebda1b5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('documents') as batch_op:
        batch_op.add_column(sa.Column('author', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('published_at', sie.core.models.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('canonical_url', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('site_name', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('description', sa.Text(), nullable=True))
        batch_op.create_index('ix_documents_tenant_published_at', ['tenant', 'published_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('documents') as batch_op:
        batch_op.drop_index('ix_documents_tenant_published_at')
        batch_op.drop_column('description')
        batch_op.drop_column('site_name')
        batch_op.drop_column('canonical_url')
        batch_op.drop_column('published_at')
        batch_op.drop_column('author')
