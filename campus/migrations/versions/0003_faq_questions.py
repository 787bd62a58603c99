"""faq questions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 10:21:07.576513
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "faq_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("entry_id", sa.String(length=80), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=True),
        sa.Column("feedback_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expert_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_faq_questions_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_faq_questions_school_id_schools"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_questions")),
    )
    with op.batch_alter_table("faq_questions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_faq_questions_asked_at"), ["asked_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("faq_questions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_faq_questions_asked_at"))

    op.drop_table("faq_questions")
