"""Verified duplicate pairs, so an ingest checks only new images against the stored ones.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("image_fingerprints", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("compared", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "image_matches",
        sa.Column("image_a", sa.Integer(), nullable=False),
        sa.Column("image_b", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("exact", sa.Boolean(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["image_a"], ["images.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["image_b"], ["images.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("image_a", "image_b"),
    )
    with op.batch_alter_table("image_matches", schema=None) as batch_op:
        batch_op.create_index("ix_image_matches_b", ["image_b"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("image_matches", schema=None) as batch_op:
        batch_op.drop_index("ix_image_matches_b")
    op.drop_table("image_matches")
    with op.batch_alter_table("image_fingerprints", schema=None) as batch_op:
        batch_op.drop_column("compared")
