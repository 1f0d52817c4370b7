"""sources: feeds, URL lists and sitemaps polled on a schedule, and the items they found

Revision ID: 9cbbeebda1b5
Revises: 9a659e72fdc1
Create Date: 2026-11-28 11:16:56.097483
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import sie.core.models

revision: str = '9cbbeebda1b5'
down_revision: str | None = '9a659e72fdc1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sources',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=30), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('urls', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('interval_seconds', sa.Integer(), nullable=False),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.Column('suspend', sa.Boolean(), nullable=False),
    sa.Column('ocr_strategy', sa.String(length=20), nullable=False),
    sa.Column('auth_header_name', sa.String(length=100), nullable=False),
    sa.Column('auth_header_value', sa.Text(), nullable=True),
    sa.Column('include_patterns', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('exclude_patterns', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('next_run_at', sie.core.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_attempt_at', sie.core.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', sie.core.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('items_seen', sa.Integer(), nullable=False),
    sa.Column('items_ingested', sa.Integer(), nullable=False),
    sa.Column('items_skipped', sa.Integer(), nullable=False),
    sa.Column('items_failed', sa.Integer(), nullable=False),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_poll', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('validators', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('lease_token', sa.Uuid(), nullable=True),
    sa.Column('lease_until', sie.core.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', sie.core.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sie.core.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sources'))
    )
    op.create_index('ix_sources_due', 'sources', ['suspend', 'next_run_at'], unique=False)
    op.create_index('uq_sources_tenant_name', 'sources', ['tenant', 'name'], unique=True)
    op.create_table('source_items',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('source_id', sa.Uuid(), nullable=False),
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('url_hash', sa.String(length=64), nullable=False),
    sa.Column('guid', sa.String(length=500), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('etag', sa.String(length=500), nullable=True),
    sa.Column('last_modified', sa.String(length=100), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=True),
    sa.Column('document_id', sa.Uuid(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('first_seen_at', sie.core.models.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_source_items_document_id_documents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_source_items_source_id_sources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source_items'))
    )
    op.create_index('ix_source_items_source_guid', 'source_items', ['source_id', 'guid'], unique=False)
    op.create_index('ix_source_items_tenant_content_hash', 'source_items', ['tenant', 'content_hash'], unique=False)
    op.create_index('ix_source_items_tenant_url_hash', 'source_items', ['tenant', 'url_hash'], unique=False)
    op.create_index('uq_source_items_source_url_hash', 'source_items', ['source_id', 'url_hash'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_source_items_source_url_hash', table_name='source_items')
    op.drop_index('ix_source_items_tenant_url_hash', table_name='source_items')
    op.drop_index('ix_source_items_tenant_content_hash', table_name='source_items')
    op.drop_index('ix_source_items_source_guid', table_name='source_items')
    op.drop_table('source_items')
    op.drop_index('uq_sources_tenant_name', table_name='sources')
    op.drop_index('ix_sources_due', table_name='sources')
    op.drop_table('sources')
