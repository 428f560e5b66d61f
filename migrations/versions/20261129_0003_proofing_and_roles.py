"""proofing and roles

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('citizens', schema=None) as batch_op:
        # existing accounts are self-asserted: the default fills them in
        batch_op.add_column(sa.Column('identity_level', sa.String(length=24), nullable=False, server_default='self-asserted'))
        batch_op.add_column(sa.Column('verification', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('national_id_index', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('locked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_citizens_national_id_index'), ['national_id_index'])

    op.create_table('proofing_cases',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('citizen_id', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('national_id_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('national_id_index', sa.String(length=64), nullable=False),
    sa.Column('given_name', sa.String(length=100), nullable=False),
    sa.Column('family_name', sa.String(length=100), nullable=False),
    sa.Column('given_name_km', sa.String(length=100), nullable=False),
    sa.Column('family_name_km', sa.String(length=100), nullable=False),
    sa.Column('birthdate', sa.String(length=10), nullable=False),
    sa.Column('sex', sa.String(length=8), nullable=False),
    sa.Column('address', sa.JSON(), nullable=False),
    sa.Column('photo_type', sa.String(length=16), nullable=True),
    sa.Column('photo_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('duplicate_of', sa.String(length=32), nullable=True),
    sa.Column('opened_by', sa.String(length=32), nullable=True),
    sa.Column('first_approver', sa.String(length=32), nullable=True),
    sa.Column('first_approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=32), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision', sa.String(length=16), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], name=op.f('fk_proofing_cases_citizen_id_citizens'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proofing_cases'))
    )
    with op.batch_alter_table('proofing_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proofing_cases_citizen_id'), ['citizen_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_proofing_cases_national_id_index'), ['national_id_index'], unique=False)
        batch_op.create_index(batch_op.f('ix_proofing_cases_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('proofing_cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proofing_cases_status'))
        batch_op.drop_index(batch_op.f('ix_proofing_cases_national_id_index'))
        batch_op.drop_index(batch_op.f('ix_proofing_cases_citizen_id'))

    op.drop_table('proofing_cases')
    with op.batch_alter_table('citizens', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_citizens_national_id_index'), type_='unique')
        batch_op.drop_column('locked_at')
        batch_op.drop_column('national_id_index')
        batch_op.drop_column('verification')
        batch_op.drop_column('identity_level')
