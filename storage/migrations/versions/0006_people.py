"""the member directory, topics, introductions, blocks, invitations and admissions

Revision ID: 0006_people
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0006_people"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The default topics for social innovation: (code, Danish, Swedish, English).
DEFAULT_TOPICS = [
    ("employment", "Beskæftigelse", "Sysselsättning", "Employment"),
    ("inclusion", "Inklusion", "Inkludering", "Inclusion"),
    ("elderly", "Ældre", "Äldre", "Elderly people"),
    ("children_youth", "Børn og unge", "Barn och unga", "Children and young people"),
    ("health", "Sundhed", "Hälsa", "Health"),
    ("housing", "Bolig", "Boende", "Housing"),
    ("climate", "Klima og miljø", "Klimat och miljö", "Climate and environment"),
    ("civil_society", "Civilsamfund", "Civilsamhälle", "Civil society"),
    ("procurement", "Offentlige indkøb", "Offentlig upphandling", "Public procurement"),
    ("evaluation", "Evaluering og effekt", "Utvärdering och effekt", "Evaluation and impact"),
    ("funding", "Finansiering", "Finansiering", "Funding"),
    ("social_enterprise", "Socialøkonomi", "Social ekonomi", "Social enterprise"),
    ("migration", "Integration", "Integration", "Integration and migration"),
    ("volunteering", "Frivillighed", "Volontärarbete", "Volunteering"),
    ("digital", "Digitalisering", "Digitalisering", "Digital inclusion"),
]


def upgrade() -> None:
    op.create_table(
        "directory_entries",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("listed", sa.Boolean(), nullable=False),
        sa.Column("can_help", sa.String(length=200), nullable=True),
        sa.Column("looking_for", sa.String(length=200), nullable=True),
        sa.Column("share_email", sa.Boolean(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_directory_entries_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_directory_entries")),
    )
    topics = op.create_table(
        "topics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name_da", sa.String(length=60), nullable=False),
        sa.Column("name_sv", sa.String(length=60), nullable=False),
        sa.Column("name_en", sa.String(length=60), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topics")),
        sa.UniqueConstraint("code", name=op.f("uq_topics_code")),
    )
    op.create_table(
        "member_topics",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_member_topics_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["topics.id"],
            name=op.f("fk_member_topics_topic_id_topics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", "topic_id", name=op.f("pk_member_topics")),
    )
    op.create_table(
        "introductions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("from_member_id", sa.Integer(), nullable=True),
        sa.Column("to_member_id", sa.Integer(), nullable=True),
        sa.Column("organiser_member_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("from_accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("to_accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("from_sector", sa.String(length=20), nullable=True),
        sa.Column("to_sector", sa.String(length=20), nullable=True),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminder_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["from_member_id"],
            ["members.id"],
            name=op.f("fk_introductions_from_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["to_member_id"],
            ["members.id"],
            name=op.f("fk_introductions_to_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organiser_member_id"],
            ["members.id"],
            name=op.f("fk_introductions_organiser_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["regions.id"],
            name=op.f("fk_introductions_region_id_regions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_introductions")),
    )
    with op.batch_alter_table("introductions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_introductions_pair", ["from_member_id", "to_member_id"], unique=False
        )
        batch_op.create_index(
            "ix_introductions_status_expires", ["status", "expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_introductions_to_member_id"), ["to_member_id"], unique=False
        )
    op.create_table(
        "member_blocks",
        sa.Column("blocker_member_id", sa.Integer(), nullable=False),
        sa.Column("blocked_member_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["blocker_member_id"],
            ["members.id"],
            name=op.f("fk_member_blocks_blocker_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["blocked_member_id"],
            ["members.id"],
            name=op.f("fk_member_blocks_blocked_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "blocker_member_id", "blocked_member_id", name=op.f("pk_member_blocks")
        ),
    )
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("created_by_member_id", sa.Integer(), nullable=True),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_member_id"],
            ["members.id"],
            name=op.f("fk_invitations_created_by_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("code", name=op.f("uq_invitations_code")),
    )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invitations_created_by_member_id"),
            ["created_by_member_id"],
            unique=False,
        )
    op.create_table(
        "admissions",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("invitation_id", sa.Integer(), nullable=True),
        sa.Column("invited_by_member_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("decided_by_member_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by_member_id"],
            ["members.id"],
            name=op.f("fk_admissions_decided_by_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitations.id"],
            name=op.f("fk_admissions_invitation_id_invitations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["invited_by_member_id"],
            ["members.id"],
            name=op.f("fk_admissions_invited_by_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_admissions_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_admissions")),
    )
    op.create_table(
        "invitation_uses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invitation_id", sa.Integer(), nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitations.id"],
            name=op.f("fk_invitation_uses_invitation_id_invitations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_invitation_uses_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitation_uses")),
        sa.UniqueConstraint(
            "invitation_id", "telegram_user_id", name=op.f("uq_invitation_uses_invitation_id")
        ),
    )
    op.create_table(
        "participant_visibility",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("visible", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_participant_visibility_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_participant_visibility_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "event_id", "member_id", name=op.f("pk_participant_visibility")
        ),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        topics,
        [
            {
                "code": code,
                "name_da": da,
                "name_sv": sv,
                "name_en": en,
                "active": True,
                "created_at": now,
            }
            for code, da, sv, en in DEFAULT_TOPICS
        ],
    )


def downgrade() -> None:
    op.drop_table("participant_visibility")
    op.drop_table("invitation_uses")
    op.drop_table("admissions")
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitations_created_by_member_id"))
    op.drop_table("invitations")
    op.drop_table("member_blocks")
    with op.batch_alter_table("introductions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_introductions_to_member_id"))
        batch_op.drop_index("ix_introductions_status_expires")
        batch_op.drop_index("ix_introductions_pair")
    op.drop_table("introductions")
    op.drop_table("member_topics")
    op.drop_table("topics")
    op.drop_table("directory_entries")
