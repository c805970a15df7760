"""cache versions: one row whose version every change to the data each process keeps sets anew

Revision ID: d2b7e4f1a9c3
Revises: cc04c969b906
Create Date: 2026-12-06 09:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d2b7e4f1a9c3"
down_revision = "cc04c969b906"
branch_labels = None
depends_on = None


def upgrade():
    versions = op.create_table(
        "cache_versions",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cache_versions")),
    )
    op.bulk_insert(versions, [{"name": "install", "version": 1}])


def downgrade():
    op.drop_table("cache_versions")
