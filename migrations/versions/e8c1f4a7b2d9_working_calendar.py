"""working calendar: make-up working days beside the holidays, a factory's closures

A factory's one closed-until date becomes a closure with its first and last day (and a
reason): the closures table is now the one rule for when a factory is shut. The column is
dropped with SQLite's own ALTER TABLE (3.35+), not a batch copy of the table, so the
search's triggers on factories stay as they are.

Revision ID: e8c1f4a7b2d9
Revises: a7c4e9f2b1d8
Create Date: 2026-12-06 14:10:00.000000

"""

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

import crm.models.types

# revision identifiers, used by Alembic.
revision = "e8c1f4a7b2d9"
down_revision = "a7c4e9f2b1d8"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("holidays", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=10), server_default="holiday", nullable=False)
        )
        batch_op.create_check_constraint(op.f("ck_holidays_kind"), "kind IN ('holiday', 'workday')")

    op.create_table(
        "factory_closures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("factory_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", crm.models.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_factory_closures_dates_in_order")),
        sa.ForeignKeyConstraint(
            ["factory_id"],
            ["factories.id"],
            name=op.f("fk_factory_closures_factory_id_factories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_factory_closures_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_factory_closures")),
    )
    op.create_index(
        "ix_factory_closures_factory_ends",
        "factory_closures",
        ["factory_id", "ends_on"],
        unique=False,
    )

    # Each closed-until date still ahead becomes a closure from today (its first day is not
    # known) to that date; one already past closes nothing and is dropped.
    connection = op.get_bind()
    today = date.today()
    closed = connection.execute(
        sa.text("SELECT id, closed_until FROM factories WHERE closed_until IS NOT NULL")
    ).all()
    closures = sa.table(
        "factory_closures",
        sa.column("factory_id", sa.Integer()),
        sa.column("starts_on", sa.Date()),
        sa.column("ends_on", sa.Date()),
        sa.column("reason", sa.String()),
        sa.column("created_at", crm.models.types.UTCDateTime()),
    )
    rows = []
    for factory_id, until in closed:
        until = until if isinstance(until, date) else date.fromisoformat(str(until))
        if until >= today:
            rows.append(
                {
                    "factory_id": factory_id,
                    "starts_on": today,
                    "ends_on": until,
                    "reason": "",
                    "created_at": datetime.now(UTC),
                }
            )
    if rows:
        op.bulk_insert(closures, rows)
    op.execute("ALTER TABLE factories DROP COLUMN closed_until")


def downgrade():
    op.execute("ALTER TABLE factories ADD COLUMN closed_until DATE")
    # The last day of each factory's latest closure comes back as its closed-until date.
    op.execute(
        "UPDATE factories SET closed_until = (SELECT MAX(ends_on) FROM factory_closures "
        "WHERE factory_closures.factory_id = factories.id)"
    )
    op.drop_index("ix_factory_closures_factory_ends", table_name="factory_closures")
    op.drop_table("factory_closures")
    with op.batch_alter_table("holidays", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_holidays_kind"), type_="check")
        batch_op.drop_column("kind")
