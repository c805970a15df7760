"""route plans: the stops a rep chose for a day in their order; a factory's opening hours

Revision ID: b8e3d1f7a2c5
Revises: e7b2c5a9d4f1
Create Date: 2026-12-06 14:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

import crm.models.types

# revision identifiers, used by Alembic.
revision = "b8e3d1f7a2c5"
down_revision = "e7b2c5a9d4f1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "route_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("factory_ids", sa.JSON(), nullable=False),
        sa.Column("start_lat", sa.Float(), nullable=True),
        sa.Column("start_lng", sa.Float(), nullable=True),
        sa.Column("updated_at", crm.models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_route_plans_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_route_plans")),
        sa.UniqueConstraint("user_id", "day", name=op.f("uq_route_plans_user_id_day")),
    )
    # Plain ALTER TABLE (SQLite 3.35+ drops a column too): a batch copy of the factories table
    # would lose the SQLite search's triggers.
    op.add_column("factories", sa.Column("opens_at", sa.Time(), nullable=True))
    op.add_column("factories", sa.Column("closes_at", sa.Time(), nullable=True))


def downgrade():
    op.drop_column("factories", "closes_at")
    op.drop_column("factories", "opens_at")
    op.drop_table("route_plans")
