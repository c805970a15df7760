"""invitations: a factory owner's expiring, single-use link for a colleague's login

Revision ID: c3e8a5f1d2b4
Revises: b7d41c2e9a10
Create Date: 2026-11-25 12:20:00.000000

"""

import sqlalchemy as sa
from alembic import op

import crm.models.types

# revision identifiers, used by Alembic.
revision = "c3e8a5f1d2b4"
down_revision = "b7d41c2e9a10"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("factory_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", crm.models.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", crm.models.types.UTCDateTime(), nullable=False),
        sa.Column("used_at", crm.models.types.UTCDateTime(), nullable=True),
        sa.Column("used_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_invitations_created_by_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["factory_id"],
            ["factories.id"],
            name=op.f("fk_invitations_factory_id_factories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["used_by_id"],
            ["users.id"],
            name=op.f("fk_invitations_used_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
    )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invitations_factory_id"), ["factory_id"], unique=False)


def downgrade():
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitations_factory_id"))
    op.drop_table("invitations")
