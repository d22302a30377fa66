"""hardening: code-mail throttle, growing lock-out of codes, explicit "all regions" organisers

Revision ID: 0009_hardening
Revises: 0008_report
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_hardening"
down_revision: str | None = "0008_report"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "email_code_sends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_email_code_sends_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_code_sends")),
    )
    op.create_index(
        "ix_email_code_sends_address_sent", "email_code_sends", ["address_hash", "sent_at"]
    )
    op.create_index(
        op.f("ix_email_code_sends_member_id"), "email_code_sends", ["member_id"], unique=False
    )
    # Plain ADD COLUMN (SQLite has it): a batch rebuild of `members` would have to drop a table
    # that many others refer to.
    op.add_column(
        "email_verifications", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "members",
        sa.Column("organiser_all_regions", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    # Until now an organiser without a region was an organiser for all regions: say so.
    op.execute(
        "UPDATE members SET organiser_all_regions = TRUE "
        "WHERE role = 'organiser' AND organiser_region_id IS NULL AND deleted_at IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("organiser_all_regions")
    with op.batch_alter_table("email_verifications", schema=None) as batch_op:
        batch_op.drop_column("locked_until")
    op.drop_index(op.f("ix_email_code_sends_member_id"), table_name="email_code_sends")
    op.drop_index("ix_email_code_sends_address_sent", table_name="email_code_sends")
    op.drop_table("email_code_sends")
