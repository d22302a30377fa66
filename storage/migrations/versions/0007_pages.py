"""channels and groups: bot_chats, bot_chat_posts

Revision ID: 0007_pages
Revises: 0006_people
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0007_pages"
down_revision: str | None = "0006_people"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "bot_chats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("can_post", sa.Boolean(), nullable=False),
        sa.Column("can_edit", sa.Boolean(), nullable=False),
        sa.Column("added_by_user_id", sa.BigInteger(), nullable=True),
        sa.Column("region_ids", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=15), nullable=False),
        sa.Column("configured", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_chats")),
        sa.UniqueConstraint("chat_id", name=op.f("uq_bot_chats_chat_id")),
    )
    op.create_table(
        "bot_chat_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bot_chat_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("shown", sa.String(length=64), nullable=False),
        sa.Column("edits", sa.Integer(), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bot_chat_id"],
            ["bot_chats.id"],
            name=op.f("fk_bot_chat_posts_bot_chat_id_bot_chats"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_bot_chat_posts_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_chat_posts")),
        sa.UniqueConstraint("bot_chat_id", "event_id", name=op.f("uq_bot_chat_posts_bot_chat_id")),
    )
    with op.batch_alter_table("bot_chat_posts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bot_chat_posts_event_id"), ["event_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("bot_chat_posts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bot_chat_posts_event_id"))

    op.drop_table("bot_chat_posts")
    op.drop_table("bot_chats")
