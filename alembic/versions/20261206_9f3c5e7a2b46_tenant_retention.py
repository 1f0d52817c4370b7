"""tenant_settings: per-tenant overrides, first of all how many days its documents are kept

Revision ID: 9f3c5e7a2b46
Revises: 8e2b4d6f1a35
Create Date: 2026-12-06 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sie.core.models

revision: str = '9f3c5e7a2b46'
down_revision: str | None = '8e2b4d6f1a35'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('tenant_settings',
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('retention_days', sa.Integer(), nullable=True),
    sa.Column('updated_at', sie.core.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant', name=op.f('pk_tenant_settings'))
    )


def downgrade() -> None:
    op.drop_table('tenant_settings')
