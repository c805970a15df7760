"""desk_figures_indexes: the manager's desk at 100,000 factories; the team page's figures read
from indexes alone, the period's decisions by time, the board's default order walked in order

Revision ID: d5e7a1c3b9f2
Revises: a8d2f6c4e1b7
Create Date: 2026-12-06 21:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d5e7a1c3b9f2"
down_revision = "a8d2f6c4e1b7"
branch_labels = None
depends_on = None

# The board's default order, "waiting longest" (crm.services.pipeline.board._order), written as
# the statements write it so that both databases match the index to the ORDER BY.
WAITING = "coalesce(stage_entered_at, created_at)"


def upgrade():
    # Wider than the indexes they replace, which lead them: every reader of those keeps its
    # order, and the team page's figures need no row of the table.
    op.drop_index("ix_factories_owner_status", table_name="factories")
    op.create_index(
        "ix_factories_owner_status_stage_dates",
        "factories",
        [
            "owner_id",
            "status",
            "stage",
            "next_follow_up_at",
            "last_visit_at",
            "stage_entered_at",
            "created_at",
        ],
        unique=False,
    )
    op.drop_index("ix_visits_rep_checked_in", table_name="visits")
    op.create_index(
        "ix_visits_rep_checked_in_site_factory",
        "visits",
        ["rep_id", "checked_in_at", "off_site", "factory_id"],
        unique=False,
    )
    op.create_index(
        "ix_tasks_owner_status_completed",
        "tasks",
        ["owner_id", "status", "completed_at"],
        unique=False,
    )
    op.create_index("ix_stage_changes_decided_at", "stage_changes", ["decided_at"], unique=False)
    op.create_index(
        "ix_factories_waiting",
        "factories",
        [sa.text(WAITING), "id", "status", "stage"],
        unique=False,
    )


def downgrade():
    op.drop_index("ix_factories_waiting", table_name="factories")
    op.drop_index("ix_stage_changes_decided_at", table_name="stage_changes")
    op.drop_index("ix_tasks_owner_status_completed", table_name="tasks")
    op.drop_index("ix_visits_rep_checked_in_site_factory", table_name="visits")
    op.create_index("ix_visits_rep_checked_in", "visits", ["rep_id", "checked_in_at"], unique=False)
    op.drop_index("ix_factories_owner_status_stage_dates", table_name="factories")
    op.create_index("ix_factories_owner_status", "factories", ["owner_id", "status"], unique=False)
