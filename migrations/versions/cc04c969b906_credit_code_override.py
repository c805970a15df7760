"""credit code override: an admin records a code that fails only its check characters, with why, who and when

Revision ID: cc04c969b906
Revises: a7bcbd5591e0
Create Date: 2026-12-06 05:12:31.457285

"""

import sqlalchemy as sa
from alembic import op

import crm.models.types

# revision identifiers, used by Alembic.
revision = "cc04c969b906"
down_revision = "a7bcbd5591e0"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("factories", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("credit_code_override_reason", sa.String(length=500), nullable=True)
        )
        batch_op.add_column(sa.Column("credit_code_override_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "credit_code_override_at",
                crm.models.types.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_factories_credit_code_override_by_id_users"),
            "users",
            ["credit_code_override_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_factories_credit_code_override_has_code"),
            "credit_code_override_reason IS NULL OR credit_code IS NOT NULL",
        )


def downgrade():
    with op.batch_alter_table("factories", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("ck_factories_credit_code_override_has_code"), type_="check"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_factories_credit_code_override_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("credit_code_override_at")
        batch_op.drop_column("credit_code_override_by_id")
        batch_op.drop_column("credit_code_override_reason")
