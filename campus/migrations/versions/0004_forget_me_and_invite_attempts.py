"""forget me and invite attempts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 11:06:15.727657
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invite_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invite_attempts")),
    )
    with op.batch_alter_table("invite_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invite_attempts_telegram_user_id"), ["telegram_user_id"], unique=False
        )

    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("forgotten_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_column("forgotten_at")

    with op.batch_alter_table("invite_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invite_attempts_telegram_user_id"))

    op.drop_table("invite_attempts")
