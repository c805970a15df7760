"""visit corrections: a rep corrects a visit's text, purpose and contact within a day, each
earlier version kept

Revision ID: e3b8d4a1c6f2
Revises: d5a9c3e7f2b1
Create Date: 2026-12-06 21:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

import crm.models.types

# revision identifiers, used by Alembic.
revision = "e3b8d4a1c6f2"
down_revision = "d5a9c3e7f2b1"
branch_labels = None
depends_on = None

PURPOSES = (
    "first_contact",
    "assessment",
    "training",
    "video_shoot",
    "follow_up",
    "promotion_review",
    "other",
)


def upgrade():
    op.create_table(
        "visit_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("corrected_by_id", sa.Integer(), nullable=True),
        sa.Column("corrected_at", crm.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "purpose IN (" + ", ".join(f"'{code}'" for code in PURPOSES) + ")",
            name=op.f("ck_visit_corrections_purpose"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_visit_corrections_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["corrected_by_id"],
            ["users.id"],
            name=op.f("fk_visit_corrections_corrected_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
            name=op.f("fk_visit_corrections_visit_id_visits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_corrections")),
    )
    with op.batch_alter_table("visit_corrections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_visit_corrections_visit_id"), ["visit_id"], unique=False
        )
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("edited_at", crm.models.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade():
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_column("edited_at")
    with op.batch_alter_table("visit_corrections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_corrections_visit_id"))
    op.drop_table("visit_corrections")
