"""passkeys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('passkeys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('citizen_id', sa.String(length=32), nullable=False),
    sa.Column('credential_id', sa.LargeBinary(length=1023), nullable=False),
    sa.Column('public_key', sa.LargeBinary(length=2048), nullable=False),
    sa.Column('user_handle', sa.String(length=86), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('sign_count', sa.Integer(), nullable=False),
    sa.Column('backup_eligible', sa.Boolean(), nullable=False),
    sa.Column('backed_up', sa.Boolean(), nullable=False),
    sa.Column('aaguid', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], name=op.f('fk_passkeys_citizen_id_citizens'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_passkeys')),
    sa.UniqueConstraint('credential_id', name=op.f('uq_passkeys_credential_id'))
    )
    with op.batch_alter_table('passkeys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_passkeys_citizen_id'), ['citizen_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_passkeys_user_handle'), ['user_handle'], unique=False)

    op.create_table('passkey_challenges',
    sa.Column('id', sa.String(length=43), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('browser_hash', sa.String(length=64), nullable=False),
    sa.Column('challenge', sa.String(length=86), nullable=False),
    sa.Column('citizen_id', sa.String(length=32), nullable=True),
    sa.Column('tx', sa.String(length=64), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], name=op.f('fk_passkey_challenges_citizen_id_citizens'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_passkey_challenges'))
    )
    with op.batch_alter_table('passkey_challenges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_passkey_challenges_expires_at'), ['expires_at'], unique=False)

    op.create_table('passkey_after_password',
    sa.Column('citizen_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], name=op.f('fk_passkey_after_password_citizen_id_citizens'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('citizen_id', name=op.f('pk_passkey_after_password'))
    )


def downgrade() -> None:
    op.drop_table('passkey_after_password')
    with op.batch_alter_table('passkey_challenges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_passkey_challenges_expires_at'))

    op.drop_table('passkey_challenges')
    with op.batch_alter_table('passkeys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_passkeys_user_handle'))
        batch_op.drop_index(batch_op.f('ix_passkeys_citizen_id'))

    op.drop_table('passkeys')
