"""retention: a visit keeps when its position was coarsened and when its photos and voice note
were deleted; the indexes by which the retention job finds what is past its period

Revision ID: f3a5c7e9b1d2
Revises: e1f3b5d7a9c2
Create Date: 2026-12-07 06:40:00.000000

"""

import sqlalchemy as sa
from alembic import op

import crm.models.types

# revision identifiers, used by Alembic.
revision = "f3a5c7e9b1d2"
down_revision = "e1f3b5d7a9c2"
branch_labels = None
depends_on = None

# The same words as crm.models.visit.TO_COARSEN, so that both planners match the index.
TO_COARSEN = sa.and_(sa.column("position_coarsened_at").is_(None), sa.column("lat").is_not(None))
# Plain indexes on one table's columns: (name, table, columns).
INDEXES = (
    ("ix_visit_photos_created_at", "visit_photos", ["created_at"]),
    ("ix_visit_voice_notes_created_at", "visit_voice_notes", ["created_at"]),
    ("ix_user_sessions_last_seen_at", "user_sessions", ["last_seen_at"]),
    ("ix_login_attempts_at", "login_attempts", ["at"]),
    ("ix_webhook_deliveries_status_created", "webhook_deliveries", ["status", "created_at"]),
)


def upgrade():
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "position_coarsened_at",
                crm.models.types.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "media_deleted_at", crm.models.types.UTCDateTime(timezone=True), nullable=True
            )
        )
    op.create_index(
        "ix_visits_position_to_coarsen",
        "visits",
        ["checked_in_at"],
        unique=False,
        postgresql_where=TO_COARSEN,
        sqlite_where=TO_COARSEN,
    )
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_index("ix_visits_position_to_coarsen", table_name="visits")
    # A plain ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later have it): a batch would copy
    # the visits table, reflecting it and its neighbours, whose expression indexes SQLite cannot
    # reflect (and the copy would need the flagged visits' partial index written out again).
    op.drop_column("visits", "media_deleted_at")
    op.drop_column("visits", "position_coarsened_at")
