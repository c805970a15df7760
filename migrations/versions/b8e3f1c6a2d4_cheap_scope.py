"""cheap scope: a partial index on unowned prospects, and the factory search on an index

The team's unowned prospects (a rep's second set) by belt in name order, from a partial
index. The name search: on PostgreSQL a pg_trgm GIN index that ILIKE uses; on SQLite an FTS5
table of trigrams over the names (external content, kept by triggers on factories; a later
migration that rebuilds the factories table in batch mode must create the triggers again:
`create_sqlite_search` below).

Revision ID: b8e3f1c6a2d4
Revises: d2b7e4f1a9c3
Create Date: 2026-12-06 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b8e3f1c6a2d4"
down_revision = "d2b7e4f1a9c3"
branch_labels = None
depends_on = None

UNOWNED_PROSPECT = "owner_id IS NULL AND status = 'prospect'"

SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE factory_search USING fts5("
    "name, content='factories', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER factory_search_insert AFTER INSERT ON factories BEGIN "
    "INSERT INTO factory_search (rowid, name) VALUES (new.id, new.name); END",
    "CREATE TRIGGER factory_search_delete AFTER DELETE ON factories BEGIN "
    "INSERT INTO factory_search (factory_search, rowid, name) "
    "VALUES ('delete', old.id, old.name); END",
    "CREATE TRIGGER factory_search_update AFTER UPDATE OF name ON factories BEGIN "
    "INSERT INTO factory_search (factory_search, rowid, name) "
    "VALUES ('delete', old.id, old.name); "
    "INSERT INTO factory_search (rowid, name) VALUES (new.id, new.name); END",
    "INSERT INTO factory_search (factory_search) VALUES ('rebuild')",
)


def create_sqlite_search():
    for statement in SQLITE_SEARCH:
        op.execute(statement)


def upgrade():
    op.create_index(
        "ix_factories_unowned_prospects",
        "factories",
        ["belt_id", "name", "id"],
        postgresql_where=sa.text(UNOWNED_PROSPECT),
        sqlite_where=sa.text(UNOWNED_PROSPECT),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_factories_name_trgm ON factories USING gin (name gin_trgm_ops)")
    else:
        create_sqlite_search()


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_factories_name_trgm")
        # The extension stays: another database object may use it, and it costs nothing.
    else:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER factory_search_{trigger}")
        op.execute("DROP TABLE factory_search")
    op.drop_index("ix_factories_unowned_prospects", table_name="factories")
