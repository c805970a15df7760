"""work requests: progress as rows done of a total with a phase, errors, holders; staged import rows

Revision ID: d1f7a3b9c5e2
Revises: c9e6f2b7d3a8
Create Date: 2026-11-25 16:45:00.000000

The uploaded cells move from a JSON column on import_runs to one import_rows record each
(no production data exists yet: nothing is copied across).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d1f7a3b9c5e2"
down_revision = "c9e6f2b7d3a8"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("work_requests", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_work_requests_status"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_work_requests_progress"), type_="check")
        batch_op.drop_column("progress")
        batch_op.alter_column("started_at", new_column_name="claimed_at")
        batch_op.add_column(
            sa.Column("progress_done", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("progress_total", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("phase", sa.String(length=20), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("error", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("claimed_by", sa.String(length=120), nullable=False, server_default="")
        )
    op.execute("UPDATE work_requests SET status = 'pending' WHERE status = 'queued'")
    with op.batch_alter_table("work_requests", schema=None) as batch_op:
        batch_op.create_check_constraint(
            batch_op.f("ck_work_requests_status"),
            "status IN ('pending', 'running', 'done', 'failed')",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_work_requests_progress"), "progress_done >= 0 AND progress_total >= 0"
        )

    op.execute("DELETE FROM import_runs")
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_import_runs_status"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_import_runs_processed_rows"), type_="check")
        batch_op.drop_column("rows")
        batch_op.drop_column("phase")
        batch_op.drop_column("processed_rows")
        batch_op.add_column(
            sa.Column("problem_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("work_request_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_import_runs_work_request_id_work_requests"),
            "work_requests",
            ["work_request_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_import_runs_status"),
            "status IN ('uploaded', 'checking', 'checked', 'refused', 'applying', 'done', 'failed')",
        )

    op.create_table(
        "import_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["import_runs.id"],
            name=op.f("fk_import_rows_run_id_import_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_rows")),
    )
    with op.batch_alter_table("import_rows", schema=None) as batch_op:
        batch_op.create_index("ix_import_rows_run_line", ["run_id", "line"], unique=True)


def downgrade():
    with op.batch_alter_table("import_rows", schema=None) as batch_op:
        batch_op.drop_index("ix_import_rows_run_line")
    op.drop_table("import_rows")

    op.execute("DELETE FROM import_runs")
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_import_runs_status"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_import_runs_work_request_id_work_requests"), type_="foreignkey"
        )
        batch_op.drop_column("work_request_id")
        batch_op.drop_column("problem_count")
        batch_op.add_column(sa.Column("rows", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(
            sa.Column("phase", sa.String(length=10), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("processed_rows", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_import_runs_processed_rows"), "processed_rows >= 0"
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_import_runs_status"),
            "status IN ('uploaded', 'checked', 'refused', 'applying', 'done', 'failed')",
        )

    with op.batch_alter_table("work_requests", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_work_requests_status"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_work_requests_progress"), type_="check")
    op.execute("UPDATE work_requests SET status = 'queued' WHERE status = 'pending'")
    with op.batch_alter_table("work_requests", schema=None) as batch_op:
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("error")
        batch_op.drop_column("phase")
        batch_op.drop_column("progress_total")
        batch_op.drop_column("progress_done")
        batch_op.alter_column("claimed_at", new_column_name="started_at")
        batch_op.add_column(sa.Column("progress", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_check_constraint(
            batch_op.f("ck_work_requests_status"),
            "status IN ('queued', 'running', 'done', 'failed')",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_work_requests_progress"), "progress BETWEEN 0 AND 100"
        )
