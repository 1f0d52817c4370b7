"""api key last use, dead-letter discards (who and when)

Revision ID: 3b7d0e5a9c21
Revises: 5d2e8c1f7a94
Create Date: 2026-12-06 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sie.core.models

revision: str = '3b7d0e5a9c21'
down_revision: str | None = '5d2e8c1f7a94'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('api_keys') as batch_op:
        batch_op.add_column(sa.Column('last_used_at', sie.core.models.UtcDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('dead_letters') as batch_op:
        batch_op.add_column(sa.Column('discarded_at', sie.core.models.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('discarded_by', sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('dead_letters') as batch_op:
        batch_op.drop_column('discarded_by')
        batch_op.drop_column('discarded_at')
    with op.batch_alter_table('api_keys') as batch_op:
        batch_op.drop_column('last_used_at')
