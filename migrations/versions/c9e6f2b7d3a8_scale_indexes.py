"""scale indexes: the pipeline board's counts, pages and category choices; a factory's follow-ups

Revision ID: c9e6f2b7d3a8
Revises: b8d5e1a6c2f7
Create Date: 2026-11-25 15:45:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "c9e6f2b7d3a8"
down_revision = "b8d5e1a6c2f7"
branch_labels = None
depends_on = None

NEW = {
    "ix_factories_belt_status_stage_name": ["belt_id", "status", "stage", "name"],
    "ix_factories_belt_category": ["belt_id", "category"],
    "ix_factories_category": ["category"],
}


def upgrade():
    with op.batch_alter_table("factories", schema=None) as batch_op:
        # (belt_id, status, stage, name) serves everything (belt_id, status) did.
        batch_op.drop_index("ix_factories_belt_status")
        for name, columns in NEW.items():
            batch_op.create_index(name, columns, unique=False)
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.drop_index("ix_follow_ups_factory_status")
        batch_op.create_index(
            "ix_follow_ups_factory_status_due", ["factory_id", "status", "due_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.drop_index("ix_follow_ups_factory_status_due")
        batch_op.create_index(
            "ix_follow_ups_factory_status", ["factory_id", "status"], unique=False
        )
    with op.batch_alter_table("factories", schema=None) as batch_op:
        for name in reversed(list(NEW)):
            batch_op.drop_index(name)
        batch_op.create_index("ix_factories_belt_status", ["belt_id", "status"], unique=False)
