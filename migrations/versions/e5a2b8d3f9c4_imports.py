"""imports: CSV/xlsx import runs and their staged rows

Revision ID: e5a2b8d3f9c4
Revises: d4f1a7c2e8b3
Create Date: 2026-11-25 15:45:00.000000

"""

import sqlalchemy as sa
from alembic import op

import crm.models.types

# revision identifiers, used by Alembic.
revision = "e5a2b8d3f9c4"
down_revision = "d4f1a7c2e8b3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "import_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("file_format", sa.String(length=10), nullable=False),
        sa.Column("encoding", sa.String(length=20), nullable=False),
        sa.Column("delimiter", sa.String(length=4), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("phase", sa.String(length=10), nullable=False),
        sa.Column("processed_rows", sa.Integer(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", crm.models.types.UTCDateTime(), nullable=False),
        sa.Column("checked_at", crm.models.types.UTCDateTime(), nullable=True),
        sa.Column("applied_at", crm.models.types.UTCDateTime(), nullable=True),
        sa.Column("finished_at", crm.models.types.UTCDateTime(), nullable=True),
        sa.CheckConstraint("kind IN ('factories', 'snapshots')", name=op.f("ck_import_runs_kind")),
        sa.CheckConstraint(
            "status IN ('uploaded', 'checked', 'refused', 'applying', 'done', 'failed')",
            name=op.f("ck_import_runs_status"),
        ),
        sa.CheckConstraint("processed_rows >= 0", name=op.f("ck_import_runs_processed_rows")),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_import_runs_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_runs")),
    )
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_import_runs_created_by_created", ["created_by_id", "created_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_import_runs_created_by_created")
    op.drop_table("import_runs")
