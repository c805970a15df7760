"""photo capture time: what a visit photo's capture time says about it (taken long before the
check-in, in the future, or not known); the capture time itself had a column already

Revision ID: b7c3e9f1a5d8
Revises: d5e7a1c3b9f2
Create Date: 2026-12-07 00:20:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b7c3e9f1a5d8"
down_revision = "d5e7a1c3b9f2"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE on both databases (SQLite adds and drops a column since 3.35): a batch
    # copy would reflect the tables the keys point to, and SQLite's reflection warns about
    # factories' index on an expression (ix_factories_waiting).
    op.add_column("visit_photos", sa.Column("time_flag", sa.String(length=12), nullable=True))


def downgrade():
    op.drop_column("visit_photos", "time_flag")
