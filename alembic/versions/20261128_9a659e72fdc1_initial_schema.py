"""initial schema

Revision ID: 9a659e72fdc1
Revises: 
Create Date: 2026-11-28 11:06:51.538770
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import sie.core.models

# Full-text search of the built-in backend on PostgreSQL (SQLite builds an FTS5 table instead).
SEARCH_INDEX = (
    "CREATE INDEX ix_documents_search ON documents USING gin "
    "(to_tsvector('english', coalesce(title, '') || ' ' || coalesce(text, '')))"
)

revision: str = '9a659e72fdc1'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('scopes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('rate_limits', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sie.core.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sie.core.models.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys'))
    )
    op.create_index(op.f('ix_api_keys_tenant'), 'api_keys', ['tenant'], unique=False)
    op.create_table('documents',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('external_id', sa.String(length=500), nullable=True),
    sa.Column('title', sa.String(length=1000), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('content_type', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('language', sa.String(length=10), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=True),
    sa.Column('duplicate_of', sa.Uuid(), nullable=True),
    sa.Column('entities', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('keywords', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('sentiment_compound', sa.Float(), nullable=True),
    sa.Column('sentiment_label', sa.String(length=10), nullable=True),
    sa.Column('extraction', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('metadata', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('indexed_at', sie.core.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('processed_at', sie.core.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', sie.core.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sie.core.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents'))
    )
    op.create_index('ix_documents_tenant_created_at', 'documents', ['tenant', 'created_at'], unique=False)
    op.create_index('ix_documents_tenant_external_id', 'documents', ['tenant', 'external_id'], unique=False)
    op.create_index('ix_documents_unindexed', 'documents', ['indexed_at', 'status'], unique=False)
    op.create_index('uq_documents_tenant_content_hash', 'documents', ['tenant', 'content_hash'], unique=True)
    op.create_table('idempotency_keys',
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('response', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sie.core.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant', 'key', name=op.f('pk_idempotency_keys'))
    )
    op.create_table('document_blobs',
    sa.Column('document_id', sa.Uuid(), nullable=False),
    sa.Column('filename', sa.String(length=500), nullable=True),
    sa.Column('content_type', sa.String(length=100), nullable=True),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_document_blobs_document_id_documents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('document_id', name=op.f('pk_document_blobs'))
    )
    op.create_table('document_entities',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('document_id', sa.Uuid(), nullable=False),
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('text', sa.String(length=300), nullable=False),
    sa.Column('label', sa.String(length=30), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('created_at', sie.core.models.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_document_entities_document_id_documents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_entities'))
    )
    op.create_index(op.f('ix_document_entities_document_id'), 'document_entities', ['document_id'], unique=False)
    op.create_index('ix_document_entities_tenant_created_at', 'document_entities', ['tenant', 'created_at'], unique=False)
    op.create_index('ix_document_entities_tenant_text', 'document_entities', ['tenant', 'text'], unique=False)
    op.create_table('jobs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('document_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.Column('queue', sa.String(length=50), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('error_kind', sa.String(length=50), nullable=True),
    sa.Column('options', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('enqueued_at', sie.core.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('started_at', sie.core.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sie.core.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', sie.core.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sie.core.models.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_jobs_document_id_documents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    op.create_index(op.f('ix_jobs_document_id'), 'jobs', ['document_id'], unique=False)
    op.create_index('ix_jobs_status_enqueued_at', 'jobs', ['status', 'enqueued_at'], unique=False)
    op.create_index('ix_jobs_tenant_created_at', 'jobs', ['tenant', 'created_at'], unique=False)
    op.create_table('dead_letters',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('job_id', sa.Uuid(), nullable=False),
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('queue', sa.String(length=50), nullable=False),
    sa.Column('task', sa.String(length=100), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=True),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('error_kind', sa.String(length=50), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sie.core.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('replayed_at', sie.core.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('replayed_by', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_dead_letters_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letters'))
    )
    op.create_index(op.f('ix_dead_letters_job_id'), 'dead_letters', ['job_id'], unique=False)
    op.create_index('ix_dead_letters_tenant_created_at', 'dead_letters', ['tenant', 'created_at'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(SEARCH_INDEX)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_documents_search")
    op.drop_index('ix_dead_letters_tenant_created_at', table_name='dead_letters')
    op.drop_index(op.f('ix_dead_letters_job_id'), table_name='dead_letters')
    op.drop_table('dead_letters')
    op.drop_index('ix_jobs_tenant_created_at', table_name='jobs')
    op.drop_index('ix_jobs_status_enqueued_at', table_name='jobs')
    op.drop_index(op.f('ix_jobs_document_id'), table_name='jobs')
    op.drop_table('jobs')
    op.drop_index('ix_document_entities_tenant_text', table_name='document_entities')
    op.drop_index('ix_document_entities_tenant_created_at', table_name='document_entities')
    op.drop_index(op.f('ix_document_entities_document_id'), table_name='document_entities')
    op.drop_table('document_entities')
    op.drop_table('document_blobs')
    op.drop_table('idempotency_keys')
    op.drop_index('uq_documents_tenant_content_hash', table_name='documents')
    op.drop_index('ix_documents_unindexed', table_name='documents')
    op.drop_index('ix_documents_tenant_external_id', table_name='documents')
    op.drop_index('ix_documents_tenant_created_at', table_name='documents')
    op.drop_table('documents')
    op.drop_index(op.f('ix_api_keys_tenant'), table_name='api_keys')
    op.drop_table('api_keys')
