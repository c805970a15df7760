"""audit_factory: each audit entry names its factory, backfilled from the record it is about

Revision ID: c4f8a2d6e1b9
Revises: b8e3d1f7a2c5
Create Date: 2026-12-06 17:10:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c4f8a2d6e1b9"
down_revision = "b8e3d1f7a2c5"
branch_labels = None
depends_on = None

# The kinds of record that belong to a factory, and their tables.
KIND_TABLES = {
    "stage_change": "stage_changes",
    "task": "tasks",
    "visit": "visits",
    "follow_up": "follow_ups",
    "contact": "contacts",
    "metric_snapshot": "metric_snapshots",
    "invitation": "invitations",
}


def upgrade():
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("factory_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_audit_entries_factory", ["factory_id", "at"], unique=False)
    op.execute("UPDATE audit_entries SET factory_id = record_id WHERE record_type = 'factory'")
    for kind, table in KIND_TABLES.items():
        op.execute(
            f"UPDATE audit_entries SET factory_id = "
            f"(SELECT {table}.factory_id FROM {table} WHERE {table}.id = audit_entries.record_id) "
            f"WHERE record_type = '{kind}' AND record_id IS NOT NULL"
        )


def downgrade():
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entries_factory")
        batch_op.drop_column("factory_id")
