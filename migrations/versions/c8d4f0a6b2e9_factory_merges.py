"""factory merges: a factory merged into another is deleted once its records have moved; its old
id keeps pointing at the kept factory

Revision ID: c8d4f0a6b2e9
Revises: b7c3e9f1a5d8
Create Date: 2026-12-07 00:40:00.000000

"""

import sqlalchemy as sa
from alembic import op

import crm.models.types

# revision identifiers, used by Alembic.
revision = "c8d4f0a6b2e9"
down_revision = "b7c3e9f1a5d8"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "factory_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merged_id", sa.Integer(), nullable=False),
        sa.Column("merged_name", sa.String(length=200), nullable=False),
        sa.Column("kept_id", sa.Integer(), nullable=False),
        sa.Column("merged_by_id", sa.Integer(), nullable=True),
        sa.Column("merged_at", crm.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["kept_id"],
            ["factories.id"],
            name=op.f("fk_factory_merges_kept_id_factories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merged_by_id"],
            ["users.id"],
            name=op.f("fk_factory_merges_merged_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_factory_merges")),
        sa.UniqueConstraint("merged_id", name=op.f("uq_factory_merges_merged_id")),
    )
    op.create_index(op.f("ix_factory_merges_kept_id"), "factory_merges", ["kept_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_factory_merges_kept_id"), table_name="factory_merges")
    op.drop_table("factory_merges")
