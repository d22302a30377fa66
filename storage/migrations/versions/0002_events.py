"""events, rsvps, check-ins

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("location", sa.String(length=300), nullable=True),
        sa.Column("online_url", sa.String(length=500), nullable=True),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("rsvp_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("checkin_code", sa.String(length=12), nullable=False),
        sa.Column("organiser_member_id", sa.Integer(), nullable=True),
        sa.Column("cancel_message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organiser_member_id"],
            ["members.id"],
            name=op.f("fk_events_organiser_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["regions.id"],
            name=op.f("fk_events_region_id_regions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("checkin_code", name=op.f("uq_events_checkin_code")),
        sa.UniqueConstraint("uid", name=op.f("uq_events_uid")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_region_id"), ["region_id"], unique=False)
        batch_op.create_index("ix_events_starts_at", ["starts_at"], unique=False)

    op.create_table(
        "rsvps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("going_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("waitlist_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invite_sequence", sa.Integer(), nullable=True),
        sa.Column("invite_active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_rsvps_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_rsvps_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rsvps")),
        sa.UniqueConstraint("event_id", "member_id", name=op.f("uq_rsvps_event_id")),
    )
    with op.batch_alter_table("rsvps", schema=None) as batch_op:
        batch_op.create_index("ix_rsvps_event_status", ["event_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_rsvps_member_id"), ["member_id"], unique=False)

    op.create_table(
        "check_ins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by_member_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["by_member_id"],
            ["members.id"],
            name=op.f("fk_check_ins_by_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_check_ins_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_check_ins_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_ins")),
        sa.UniqueConstraint("event_id", "member_id", name=op.f("uq_check_ins_event_id")),
    )
    with op.batch_alter_table("check_ins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_check_ins_member_id"), ["member_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("check_ins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_check_ins_member_id"))
    op.drop_table("check_ins")
    with op.batch_alter_table("rsvps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rsvps_member_id"))
        batch_op.drop_index("ix_rsvps_event_status")
    op.drop_table("rsvps")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_starts_at")
        batch_op.drop_index(batch_op.f("ix_events_region_id"))
    op.drop_table("events")
