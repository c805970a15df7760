"""search keys: a factory found by its name's pinyin and initials, its address; a contact by name
and by phone in any format

A search key per factory and per contact (crm.services.factories.search_keys writes them), each on
a trigram index: pg_trgm GIN on PostgreSQL (the name's own index goes: the key holds the name);
on SQLite the FTS5 trigram table `factory_search` now over the factories' keys, and a new one,
`contact_search`, over the contacts' keys, each kept by triggers. The keys of the rows already
there are written here, and every contact's phone digits read again by the one rule
(crm.values.national_digits: `+86 131 7921 6444` keeps 13179216444).

Revision ID: e7b2c5a9d4f1
Revises: e8c1f4a7b2d9
Create Date: 2026-12-06 14:10:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e7b2c5a9d4f1"
down_revision = "e8c1f4a7b2d9"
branch_labels = None
depends_on = None

BATCH = 2000


def _fts(table, name, column):
    """An FTS5 trigram table over one column of a table, kept by triggers."""
    return (
        f"CREATE VIRTUAL TABLE {name} USING fts5("
        f"{column}, content='{table}', content_rowid='id', tokenize='trigram')",
        f"CREATE TRIGGER {name}_insert AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {name} (rowid, {column}) VALUES (new.id, new.{column}); END",
        f"CREATE TRIGGER {name}_delete AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {name} ({name}, rowid, {column}) "
        f"VALUES ('delete', old.id, old.{column}); END",
        f"CREATE TRIGGER {name}_update AFTER UPDATE OF {column} ON {table} BEGIN "
        f"INSERT INTO {name} ({name}, rowid, {column}) "
        f"VALUES ('delete', old.id, old.{column}); "
        f"INSERT INTO {name} (rowid, {column}) VALUES (new.id, new.{column}); END",
        f"INSERT INTO {name} ({name}) VALUES ('rebuild')",
    )


def _drop_fts(name):
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}_{trigger}")
    op.execute(f"DROP TABLE IF EXISTS {name}")


def _write_keys():
    # The rule of today's code: a later change of the rule writes the keys again itself.
    from crm.services.factories import search_keys
    from crm.values import national_digits

    bind = op.get_bind()
    factories = sa.table(
        "factories",
        sa.column("id"),
        sa.column("name"),
        sa.column("address"),
        sa.column("search_key"),
    )
    contacts = sa.table(
        "contacts",
        sa.column("id"),
        sa.column("name"),
        sa.column("phone"),
        sa.column("phone_digits"),
        sa.column("search_key"),
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(factories.c.id, factories.c.name, factories.c.address)
            .where(factories.c.id > last)
            .order_by(factories.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        bind.execute(
            factories.update()
            .where(factories.c.id == sa.bindparam("row_id"))
            .values(search_key=sa.bindparam("key")),
            [{"row_id": i, "key": search_keys.factory_key(n or "", a or "")} for i, n, a in rows],
        )
        last = rows[-1][0]
    last = 0
    while True:
        rows = bind.execute(
            sa.select(contacts.c.id, contacts.c.name, contacts.c.phone)
            .where(contacts.c.id > last)
            .order_by(contacts.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        bind.execute(
            contacts.update()
            .where(contacts.c.id == sa.bindparam("row_id"))
            .values(search_key=sa.bindparam("key"), phone_digits=sa.bindparam("digits")),
            [
                {
                    "row_id": i,
                    "key": search_keys.contact_key(n or "", p or ""),
                    "digits": national_digits(p),
                }
                for i, n, p in rows
            ],
        )
        last = rows[-1][0]


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    if not postgresql:
        _drop_fts("factory_search")
    for table in ("factories", "contacts"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(
                sa.Column("search_key", sa.Text(), nullable=False, server_default="")
            )
    _write_keys()
    if postgresql:
        op.execute("DROP INDEX IF EXISTS ix_factories_name_trgm")
        op.execute(
            "CREATE INDEX ix_factories_search_key_trgm ON factories "
            "USING gin (search_key gin_trgm_ops)"
        )
        op.execute(
            "CREATE INDEX ix_contacts_search_key_trgm ON contacts "
            "USING gin (search_key gin_trgm_ops)"
        )
    else:
        for statement in (
            *_fts("factories", "factory_search", "search_key"),
            *_fts("contacts", "contact_search", "search_key"),
        ):
            op.execute(statement)


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("DROP INDEX ix_contacts_search_key_trgm")
        op.execute("DROP INDEX ix_factories_search_key_trgm")
    else:
        _drop_fts("contact_search")
        _drop_fts("factory_search")
    for table in ("contacts", "factories"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("search_key")
    if postgresql:
        op.execute("CREATE INDEX ix_factories_name_trgm ON factories USING gin (name gin_trgm_ops)")
    else:
        # The name's table as the earlier revision (b8e3f1c6a2d4) made it.
        for statement in _fts("factories", "factory_search", "name"):
            op.execute(statement)
