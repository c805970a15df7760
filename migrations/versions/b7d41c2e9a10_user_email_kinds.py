"""users.email_kinds: which notifications a user also gets by e-mail

Revision ID: b7d41c2e9a10
Revises: 6345289a13c2
Create Date: 2026-11-25 12:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b7d41c2e9a10"
down_revision = "6345289a13c2"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_kinds", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("email_kinds")
