"""factories by update time: the API's sync (`updated_since`) pages them in that order

An index on (updated_at, id), the order and the cursor of `GET /api/v1/factories?updated_since=`.
Created and dropped as it is, with no batch copy of the table (which would lose the SQLite
search's triggers).

Revision ID: c7d2e9a4b1f6
Revises: b8e3f1c6a2d4
Create Date: 2026-12-06 11:00:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "c7d2e9a4b1f6"
down_revision = "b8e3f1c6a2d4"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_factories_updated_at_id", "factories", ["updated_at", "id"])


def downgrade():
    op.drop_index("ix_factories_updated_at_id", table_name="factories")
