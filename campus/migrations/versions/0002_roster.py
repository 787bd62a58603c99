"""roster: guardian slots named by the school's roster

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 09:58:39.968478
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guardian_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("guardian_name", sa.String(length=200), nullable=False),
        sa.Column(
            "relation",
            sa.Enum(
                "mother",
                "father",
                "grandmother",
                "grandfather",
                "guardian",
                "other",
                name="guardianrelation",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=op.f("fk_guardian_slots_student_id_students"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardian_slots")),
        sa.UniqueConstraint("student_id", "slot", name=op.f("uq_guardian_slots_student_id_slot")),
    )


def downgrade() -> None:
    op.drop_table("guardian_slots")
