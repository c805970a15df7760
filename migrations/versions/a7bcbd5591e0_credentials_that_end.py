"""credentials that end: a token records whether its session passed the second factor;
invitations can be revoked; tokens and open invitations of deactivated users are revoked

Revision ID: a7bcbd5591e0
Revises: e2a8b4c0d6f3
Create Date: 2026-12-06 04:41:26.912782

"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import crm.models.types

# revision identifiers, used by Alembic.
revision = "a7bcbd5591e0"
down_revision = "e2a8b4c0d6f3"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "second_factor_at", crm.models.types.UTCDateTime(timezone=True), nullable=True
            )
        )

    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("revoked_at", crm.models.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("revoked_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_invitations_revoked_by_id_users"),
            "users",
            ["revoked_by_id"],
            ["id"],
            ondelete="SET NULL",
        )

    # Deactivation now revokes a user's tokens and invitations for good; those of users who are
    # inactive today are revoked here, so that a later reactivation does not bring them back.
    now = datetime.now(UTC)
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("active", sa.Boolean))
    inactive = sa.select(users.c.id).where(users.c.active.is_(False))
    tokens = sa.table(
        "api_tokens",
        sa.column("user_id", sa.Integer),
        sa.column("revoked_at", crm.models.types.UTCDateTime(timezone=True)),
    )
    op.execute(
        tokens.update()
        .where(tokens.c.user_id.in_(inactive), tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    invitations = sa.table(
        "invitations",
        sa.column("created_by_id", sa.Integer),
        sa.column("used_at", crm.models.types.UTCDateTime(timezone=True)),
        sa.column("revoked_at", crm.models.types.UTCDateTime(timezone=True)),
    )
    op.execute(
        invitations.update()
        .where(
            invitations.c.created_by_id.in_(inactive),
            invitations.c.used_at.is_(None),
            invitations.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )


def downgrade():
    # Without the column a revoked link would work again: it expires when it was revoked instead.
    invitations = sa.table(
        "invitations",
        sa.column("expires_at", crm.models.types.UTCDateTime(timezone=True)),
        sa.column("revoked_at", crm.models.types.UTCDateTime(timezone=True)),
    )
    op.execute(
        invitations.update()
        .where(invitations.c.revoked_at.is_not(None))
        .values(expires_at=invitations.c.revoked_at)
    )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_invitations_revoked_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("revoked_by_id")
        batch_op.drop_column("revoked_at")

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("second_factor_at")
