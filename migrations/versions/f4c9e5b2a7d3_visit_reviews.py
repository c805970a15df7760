"""visit reviews: a manager accepts a flagged visit with a note, or disputes it, the rep answers
and the manager closes it

Revision ID: f4c9e5b2a7d3
Revises: e3b8d4a1c6f2
Create Date: 2026-12-06 21:05:00.000000

"""

import sqlalchemy as sa
from alembic import op

import crm.models.types

# revision identifiers, used by Alembic.
revision = "f4c9e5b2a7d3"
down_revision = "e3b8d4a1c6f2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "visit_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", crm.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("answered_at", crm.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", crm.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closing_note", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "state IN ('accepted', 'disputed', 'answered', 'closed')",
            name=op.f("ck_visit_reviews_state"),
        ),
        sa.ForeignKeyConstraint(
            ["closed_by_id"],
            ["users.id"],
            name=op.f("fk_visit_reviews_closed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["users.id"],
            name=op.f("fk_visit_reviews_reviewer_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
            name=op.f("fk_visit_reviews_visit_id_visits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_reviews")),
        sa.UniqueConstraint("visit_id", name=op.f("uq_visit_reviews_visit_id")),
    )


def downgrade():
    op.drop_table("visit_reviews")
