"""location consent: a staff member's separate consent to precise location at check-in (the
notice's version and when it was given or withdrawn), and a visit checked in without a position
because the person had not consented

Revision ID: a2c4e6f8b0d3
Revises: f3a5c7e9b1d2
Create Date: 2026-12-07 06:40:00.000000

"""

import sqlalchemy as sa
from alembic import op

import crm.models.types

# revision identifiers, used by Alembic.
revision = "a2c4e6f8b0d3"
down_revision = "f3a5c7e9b1d2"
branch_labels = None
depends_on = None


# Plain ALTER TABLE ... ADD/DROP COLUMN on both databases (SQLite 3.35 and later drop columns): a
# batch would reflect the users table's neighbours, whose expression indexes SQLite cannot
# reflect.
USER_COLUMNS = (
    ("location_consent_version", sa.Integer()),
    ("location_consent_at", crm.models.types.UTCDateTime(timezone=True)),
    ("location_withdrawn_at", crm.models.types.UTCDateTime(timezone=True)),
)


def upgrade():
    for name, kind in USER_COLUMNS:
        op.add_column("users", sa.Column(name, kind, nullable=True))
    op.add_column(
        "visits",
        sa.Column("position_withheld", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade():
    op.drop_column("visits", "position_withheld")
    for name, _kind in reversed(USER_COLUMNS):
        op.drop_column("users", name)
