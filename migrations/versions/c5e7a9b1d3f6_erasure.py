"""erasure: when a user's or a contact's personal data was erased (PIPL, issue 23); the row
stays, so that visits, tasks and figures keep pointing at it

Revision ID: c5e7a9b1d3f6
Revises: a2c4e6f8b0d3
Create Date: 2026-12-07 07:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

import crm.models.types

# revision identifiers, used by Alembic.
revision = "c5e7a9b1d3f6"
down_revision = "a2c4e6f8b0d3"
branch_labels = None
depends_on = None


# Plain ALTER TABLE ... ADD/DROP COLUMN on both databases: a batch would reflect the tables'
# neighbours, whose expression indexes SQLite cannot reflect.
TABLES = ("users", "contacts")


def upgrade():
    for table in TABLES:
        op.add_column(
            table,
            sa.Column("erased_at", crm.models.types.UTCDateTime(timezone=True), nullable=True),
        )


def downgrade():
    for table in reversed(TABLES):
        op.drop_column(table, "erased_at")
