"""kept reports: the reports of a scope, period and narrowing as last read, with when, shown
while young enough (crm.services.reports.kept_reports)

Revision ID: d9e1a5b7c3f4
Revises: c8d4f0a6b2e9
Create Date: 2026-12-07 03:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

import crm.models.types

# revision identifiers, used by Alembic.
revision = "d9e1a5b7c3f4"
down_revision = "c8d4f0a6b2e9"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "kept_reports",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("computed_at", crm.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("viewed_at", crm.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("asked_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["asked_by_id"],
            ["users.id"],
            name=op.f("fk_kept_reports_asked_by_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_kept_reports")),
    )
    op.create_index(op.f("ix_kept_reports_viewed_at"), "kept_reports", ["viewed_at"])


def downgrade():
    op.drop_index(op.f("ix_kept_reports_viewed_at"), table_name="kept_reports")
    op.drop_table("kept_reports")
