"""board columns waiting: a manager's board reads each column's first cards of a belt in the
board's default order from an index, not by sorting the whole column

Revision ID: e1f3b5d7a9c2
Revises: d9e1a5b7c3f4
Create Date: 2026-12-07 03:40:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e1f3b5d7a9c2"
down_revision = "d9e1a5b7c3f4"
branch_labels = None
depends_on = None

# The board's default order, "waiting longest" (crm.services.pipeline.board._order), written as
# the statements write it so that both databases match the index to the ORDER BY.
WAITING = "coalesce(stage_entered_at, created_at)"


def upgrade():
    op.create_index(
        "ix_factories_belt_column_waiting",
        "factories",
        ["belt_id", "status", "stage", sa.text(WAITING), "id"],
        unique=False,
    )


def downgrade():
    op.drop_index("ix_factories_belt_column_waiting", table_name="factories")
