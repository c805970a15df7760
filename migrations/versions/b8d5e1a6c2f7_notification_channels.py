"""notification_channels: team webhook channels (WeCom, DingTalk) and their deliveries

Revision ID: b8d5e1a6c2f7
Revises: a7c4d0f5b1e6
Create Date: 2026-11-25 15:45:00.000000

"""

import sqlalchemy as sa
from alembic import op

import crm.models.types

# revision identifiers, used by Alembic.
revision = "b8d5e1a6c2f7"
down_revision = "a7c4d0f5b1e6"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "notification_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("keyword", sa.String(length=20), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("locale", sa.String(length=10), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", crm.models.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", crm.models.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('wecom', 'dingtalk')", name=op.f("ck_notification_channels_kind")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_notification_channels_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_channels")),
        sa.UniqueConstraint("team_id", name=op.f("uq_notification_channels_team_id")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("dedupe_key", sa.String(length=160), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", crm.models.types.UTCDateTime(), nullable=False),
        sa.Column("claimed_at", crm.models.types.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", crm.models.types.UTCDateTime(), nullable=False),
        sa.Column("sent_at", crm.models.types.UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "event IN ('digest', 'factory_eligible', 'test')",
            name=op.f("ck_webhook_deliveries_event"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed')",
            name=op.f("ck_webhook_deliveries_status"),
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["notification_channels.id"],
            name=op.f("fk_webhook_deliveries_channel_id_notification_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_webhook_deliveries_dedupe_key")),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_deliveries_channel_id"), ["channel_id"], unique=False
        )
        batch_op.create_index(
            "ix_webhook_deliveries_status_next", ["status", "next_attempt_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_status_next")
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_channel_id"))
    op.drop_table("webhook_deliveries")
    op.drop_table("notification_channels")
