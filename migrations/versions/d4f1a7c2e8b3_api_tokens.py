"""api_tokens: personal API tokens (hashed, expiring) and anything else the API needs

Revision ID: d4f1a7c2e8b3
Revises: c3e8a5f1d2b4
Create Date: 2026-11-25 15:45:00.000000

"""

import sqlalchemy as sa
from alembic import op

import crm.models.types

# revision identifiers, used by Alembic.
revision = "d4f1a7c2e8b3"
down_revision = "c3e8a5f1d2b4"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("created_at", crm.models.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", crm.models.types.UTCDateTime(), nullable=True),
        sa.Column("last_used_at", crm.models.types.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", crm.models.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))
    op.drop_table("api_tokens")
