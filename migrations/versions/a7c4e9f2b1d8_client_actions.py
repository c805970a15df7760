"""client actions: every field action a phone sends under its key happens once

Revision ID: a7c4e9f2b1d8
Revises: c7d2e9a4b1f6
Create Date: 2026-12-06 10:45:00.000000

"""

import sqlalchemy as sa
from alembic import op

import crm.models.types

# revision identifiers, used by Alembic.
revision = "a7c4e9f2b1d8"
down_revision = "c7d2e9a4b1f6"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "client_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("client_key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("location", sa.String(length=2000), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", crm.models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_client_actions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_actions")),
        sa.UniqueConstraint(
            "user_id", "client_key", name=op.f("uq_client_actions_user_id_client_key")
        ),
    )


def downgrade():
    op.drop_table("client_actions")
