"""voice notes: at most one recorded note per visit, its length read from the file

Revision ID: e2a8b4c0d6f3
Revises: d1f7a3b9c5e2
Create Date: 2026-11-25 18:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

import crm.models.types

# revision identifiers, used by Alembic.
revision = "e2a8b4c0d6f3"
down_revision = "d1f7a3b9c5e2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "visit_voice_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("stored_name", sa.String(length=80), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("created_at", crm.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("duration_ms >= 0", name=op.f("ck_visit_voice_notes_duration")),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
            name=op.f("fk_visit_voice_notes_visit_id_visits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_voice_notes")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_visit_voice_notes_stored_name")),
        sa.UniqueConstraint("visit_id", name=op.f("uq_visit_voice_notes_visit_id")),
    )


def downgrade():
    op.drop_table("visit_voice_notes")
