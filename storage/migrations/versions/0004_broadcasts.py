"""broadcasts, scheduler runs, members.unreachable_at

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unreachable_at", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draft_key", sa.String(length=100), nullable=False),
        sa.Column("author_member_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("media_kind", sa.String(length=10), nullable=True),
        sa.Column("media_file_id", sa.String(length=255), nullable=True),
        sa.Column("audience_kind", sa.String(length=10), nullable=False),
        sa.Column("audience_value", sa.String(length=40), nullable=True),
        sa.Column("scope_region_id", sa.Integer(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("progress_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("progress_message_id", sa.Integer(), nullable=True),
        sa.Column("progress_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("progress_shown", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_member_id"],
            ["members.id"],
            name=op.f("fk_broadcasts_author_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["scope_region_id"],
            ["regions.id"],
            name=op.f("fk_broadcasts_scope_region_id_regions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
        sa.UniqueConstraint("draft_key", name=op.f("uq_broadcasts_draft_key")),
    )
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_broadcasts_author_member_id"), ["author_member_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_broadcasts_finished_at"), ["finished_at"], unique=False)

    op.create_table(
        "scheduler_runs",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("last_fire_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("running_fire_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_runs")),
    )


def downgrade() -> None:
    op.drop_table("scheduler_runs")
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_broadcasts_finished_at"))
        batch_op.drop_index(batch_op.f("ix_broadcasts_author_member_id"))
    op.drop_table("broadcasts")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("unreachable_at")
