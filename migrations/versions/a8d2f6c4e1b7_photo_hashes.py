"""photo hashes: each visit photo's perceptual hash in indexed quarters, and the earlier photo
it repeats (the same bytes) or nearly repeats (another visit's)

Revision ID: a8d2f6c4e1b7
Revises: f4c9e5b2a7d3
Create Date: 2026-12-06 21:20:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a8d2f6c4e1b7"
down_revision = "f4c9e5b2a7d3"
branch_labels = None
depends_on = None

QUARTERS = ("phash_0", "phash_1", "phash_2", "phash_3")


def upgrade():
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("photos_doubtful", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    flagged = sa.or_(
        sa.column("off_site").is_(sa.true()), sa.column("photos_doubtful").is_(sa.true())
    )
    op.create_index(
        "ix_visits_flagged",
        "visits",
        ["checked_in_at", "factory_id"],
        unique=False,
        postgresql_where=flagged,
        sqlite_where=flagged,
    )
    with op.batch_alter_table("visit_photos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phash", sa.String(length=16), nullable=True))
        for quarter in QUARTERS:
            batch_op.add_column(sa.Column(quarter, sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("same_as_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("near_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_visit_photos_same_as_id_visit_photos"),
            "visit_photos",
            ["same_as_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_visit_photos_near_id_visit_photos"),
            "visit_photos",
            ["near_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index("ix_visit_photos_sha256", ["sha256"], unique=False)
        for quarter in QUARTERS:
            batch_op.create_index(f"ix_visit_photos_{quarter}", [quarter], unique=False)


def downgrade():
    with op.batch_alter_table("visit_photos", schema=None) as batch_op:
        for quarter in QUARTERS:
            batch_op.drop_index(f"ix_visit_photos_{quarter}")
        batch_op.drop_index("ix_visit_photos_sha256")
        batch_op.drop_constraint(
            batch_op.f("fk_visit_photos_near_id_visit_photos"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_visit_photos_same_as_id_visit_photos"), type_="foreignkey"
        )
        batch_op.drop_column("near_id")
        batch_op.drop_column("same_as_id")
        for quarter in reversed(QUARTERS):
            batch_op.drop_column(quarter)
        batch_op.drop_column("phash")
    op.drop_index("ix_visits_flagged", table_name="visits")
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_column("photos_doubtful")
