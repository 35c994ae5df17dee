"""Stored compliance checks per product and channel profile (issue #15).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compliance_results",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("profile", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("violations", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("product_id", "profile"),
    )
    with op.batch_alter_table("compliance_results", schema=None) as batch_op:
        batch_op.create_index(
            "ix_compliance_profile_violations", ["profile", "violations"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("compliance_results", schema=None) as batch_op:
        batch_op.drop_index("ix_compliance_profile_violations")
    op.drop_table("compliance_results")
