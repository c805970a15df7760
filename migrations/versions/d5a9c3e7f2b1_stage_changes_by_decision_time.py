"""stage changes by decision time: each factory's changes decided in a period, read from an index

Revision ID: d5a9c3e7f2b1
Revises: c4f8a2d6e1b9
Create Date: 2026-12-06 20:50:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "d5a9c3e7f2b1"
down_revision = "c4f8a2d6e1b9"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("stage_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_stage_changes_factory_decided", ["factory_id", "decided_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("stage_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_stage_changes_factory_decided")
