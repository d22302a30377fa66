"""timebank: accounts, ledger entries, exchanges, listings, categories, contact requests

Ledger entries are immutable: triggers refuse UPDATE and DELETE on timebank_entries (a
correction is a new, reversing entry).

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# The default categories; administrators add and remove categories. The bot shows these in the
# member's language (by code); categories added later are shown by their name.
DEFAULT_CATEGORIES = [
    ("funding", "Funding and grant writing"),
    ("communication", "Communication and media"),
    ("digital", "IT and digital tools"),
    ("facilitation", "Meetings and facilitation"),
    ("mentoring", "Mentoring and advice"),
    ("practical", "Practical help"),
    ("languages", "Languages and translation"),
    ("other", "Other"),
]

IMMUTABLE_MESSAGE = "timebank ledger entries are immutable; add a reversing entry instead"


revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    categories = op.create_table(
        "timebank_categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timebank_categories")),
        sa.UniqueConstraint("code", name=op.f("uq_timebank_categories_code")),
    )
    op.create_table(
        "timebank_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("sector", sa.String(length=20), nullable=True),
        sa.Column("balance_minutes", sa.Integer(), nullable=False),
        sa.Column("min_balance_minutes", sa.Integer(), nullable=True),
        sa.Column("max_balance_minutes", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'member' AND member_id IS NOT NULL AND name IS NULL) OR "
            "(kind = 'organisation' AND member_id IS NULL AND name IS NOT NULL)",
            name=op.f("ck_timebank_accounts_owner"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_timebank_accounts_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["regions.id"],
            name=op.f("fk_timebank_accounts_region_id_regions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timebank_accounts")),
        sa.UniqueConstraint("member_id", name=op.f("uq_timebank_accounts_member_id")),
    )
    op.create_table(
        "timebank_listings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["timebank_categories.id"],
            name=op.f("fk_timebank_listings_category_id_timebank_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_timebank_listings_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["regions.id"],
            name=op.f("fk_timebank_listings_region_id_regions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timebank_listings")),
    )
    with op.batch_alter_table("timebank_listings", schema=None) as batch_op:
        batch_op.create_index("ix_timebank_listings_browse", ["status", "created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_timebank_listings_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "timebank_contact_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("requester_member_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["timebank_listings.id"],
            name=op.f("fk_timebank_contact_requests_listing_id_timebank_listings"),
        ),
        sa.ForeignKeyConstraint(
            ["requester_member_id"],
            ["members.id"],
            name=op.f("fk_timebank_contact_requests_requester_member_id_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timebank_contact_requests")),
        sa.UniqueConstraint(
            "listing_id",
            "requester_member_id",
            name=op.f("uq_timebank_contact_requests_listing_id"),
        ),
    )
    with op.batch_alter_table("timebank_contact_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_timebank_contact_requests_requester_member_id"),
            ["requester_member_id"],
            unique=False,
        )

    op.create_table(
        "timebank_coordinators",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["timebank_accounts.id"],
            name=op.f("fk_timebank_coordinators_account_id_timebank_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_timebank_coordinators_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "member_id", name=op.f("pk_timebank_coordinators")),
    )
    with op.batch_alter_table("timebank_coordinators", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_timebank_coordinators_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "timebank_exchanges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("giver_account_id", sa.Integer(), nullable=False),
        sa.Column("receiver_account_id", sa.Integer(), nullable=False),
        sa.Column("initiator_account_id", sa.Integer(), nullable=False),
        sa.Column("initiated_by_member_id", sa.Integer(), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=True),
        sa.Column("request_key", sa.String(length=80), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_member_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "giver_account_id <> receiver_account_id",
            name=op.f("ck_timebank_exchanges_two_accounts"),
        ),
        sa.CheckConstraint("minutes > 0", name=op.f("ck_timebank_exchanges_minutes_positive")),
        sa.ForeignKeyConstraint(
            ["decided_by_member_id"],
            ["members.id"],
            name=op.f("fk_timebank_exchanges_decided_by_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["giver_account_id"],
            ["timebank_accounts.id"],
            name=op.f("fk_timebank_exchanges_giver_account_id_timebank_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["initiated_by_member_id"],
            ["members.id"],
            name=op.f("fk_timebank_exchanges_initiated_by_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["initiator_account_id"],
            ["timebank_accounts.id"],
            name=op.f("fk_timebank_exchanges_initiator_account_id_timebank_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["timebank_listings.id"],
            name=op.f("fk_timebank_exchanges_listing_id_timebank_listings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["receiver_account_id"],
            ["timebank_accounts.id"],
            name=op.f("fk_timebank_exchanges_receiver_account_id_timebank_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timebank_exchanges")),
        sa.UniqueConstraint("request_key", name=op.f("uq_timebank_exchanges_request_key")),
    )
    with op.batch_alter_table("timebank_exchanges", schema=None) as batch_op:
        batch_op.create_index("ix_timebank_exchanges_due", ["status", "created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_timebank_exchanges_giver_account_id"), ["giver_account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_timebank_exchanges_receiver_account_id"),
            ["receiver_account_id"],
            unique=False,
        )

    op.create_table(
        "timebank_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("debit_account_id", sa.Integer(), nullable=False),
        sa.Column("credit_account_id", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("exchange_id", sa.Integer(), nullable=True),
        sa.Column("reverses_entry_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_by_member_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "debit_account_id <> credit_account_id", name=op.f("ck_timebank_entries_two_accounts")
        ),
        sa.CheckConstraint("minutes > 0", name=op.f("ck_timebank_entries_minutes_positive")),
        sa.ForeignKeyConstraint(
            ["created_by_member_id"],
            ["members.id"],
            name=op.f("fk_timebank_entries_created_by_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["credit_account_id"],
            ["timebank_accounts.id"],
            name=op.f("fk_timebank_entries_credit_account_id_timebank_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["debit_account_id"],
            ["timebank_accounts.id"],
            name=op.f("fk_timebank_entries_debit_account_id_timebank_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["exchange_id"],
            ["timebank_exchanges.id"],
            name=op.f("fk_timebank_entries_exchange_id_timebank_exchanges"),
        ),
        sa.ForeignKeyConstraint(
            ["reverses_entry_id"],
            ["timebank_entries.id"],
            name=op.f("fk_timebank_entries_reverses_entry_id_timebank_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timebank_entries")),
        sa.UniqueConstraint("exchange_id", name=op.f("uq_timebank_entries_exchange_id")),
        sa.UniqueConstraint(
            "reverses_entry_id", name=op.f("uq_timebank_entries_reverses_entry_id")
        ),
    )
    with op.batch_alter_table("timebank_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_timebank_entries_credit_account_id"), ["credit_account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_timebank_entries_debit_account_id"), ["debit_account_id"], unique=False
        )

    _create_immutability_triggers()
    now = datetime.now(UTC)
    op.bulk_insert(
        categories,
        [
            {"code": code, "name": name, "active": True, "created_at": now}
            for code, name in DEFAULT_CATEGORIES
        ],
    )


def _create_immutability_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION timebank_entries_immutable() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{IMMUTABLE_MESSAGE}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER timebank_entries_immutable BEFORE UPDATE OR DELETE "
            "ON timebank_entries FOR EACH ROW EXECUTE FUNCTION timebank_entries_immutable()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER timebank_entries_no_{event.lower()} BEFORE {event} "
                f"ON timebank_entries BEGIN SELECT RAISE(ABORT, '{IMMUTABLE_MESSAGE}'); END"
            )


def _drop_immutability_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS timebank_entries_immutable ON timebank_entries")
        op.execute("DROP FUNCTION IF EXISTS timebank_entries_immutable()")
    else:
        op.execute("DROP TRIGGER IF EXISTS timebank_entries_no_update")
        op.execute("DROP TRIGGER IF EXISTS timebank_entries_no_delete")


def downgrade() -> None:
    _drop_immutability_triggers()
    with op.batch_alter_table("timebank_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timebank_entries_debit_account_id"))
        batch_op.drop_index(batch_op.f("ix_timebank_entries_credit_account_id"))

    op.drop_table("timebank_entries")
    with op.batch_alter_table("timebank_exchanges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timebank_exchanges_receiver_account_id"))
        batch_op.drop_index(batch_op.f("ix_timebank_exchanges_giver_account_id"))
        batch_op.drop_index("ix_timebank_exchanges_due")

    op.drop_table("timebank_exchanges")
    with op.batch_alter_table("timebank_coordinators", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timebank_coordinators_member_id"))

    op.drop_table("timebank_coordinators")
    with op.batch_alter_table("timebank_contact_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timebank_contact_requests_requester_member_id"))

    op.drop_table("timebank_contact_requests")
    with op.batch_alter_table("timebank_listings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timebank_listings_member_id"))
        batch_op.drop_index("ix_timebank_listings_browse")

    op.drop_table("timebank_listings")
    op.drop_table("timebank_accounts")
    op.drop_table("timebank_categories")
