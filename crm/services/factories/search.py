"""The factory search: what `?q=` matches, and the index each database answers it from.

The one home of the search's rule (a later search key, such as pinyin, is added here): the
name contains the text in any case, or the credit code is exactly the text. Text without
cased letters (Chinese, digits) is matched by a plain LIKE: the same names, without folding
the case of each. On PostgreSQL the LIKE or ILIKE is answered by the pg_trgm GIN index
`ix_factories_name_trgm`; on SQLite the FTS5 trigram table `factory_search` first narrows the
names to those holding the text's trigrams, and the same LIKE or ILIKE then decides, so both
databases give the same answer. Text shorter than a trigram has no index on either database:
it is read from the scope's rows.
"""

from __future__ import annotations

from sqlalchemy import column, literal_column, or_, select, table
from sqlalchemy.sql.elements import ColumnElement

from crm.extensions import db
from crm.models import Factory
from crm.models.factory import SEARCH_TABLE
from crm.services.factories import credit_code

SEARCH_MAX = 100
# The trigram indexes find text of at least this many characters.
INDEXED_LENGTH = 3


def condition(search: str) -> ColumnElement[bool]:
    """The factories that a search's text finds."""
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if search.lower() == search.upper():
        # No letter with a case (Chinese, digits): LIKE finds the same names, without folding
        # the case of every name it reads as ILIKE does (on PostgreSQL 40 times the time for
        # 永康 over a rep's scope; SQLite's ILIKE is lower() on both sides).
        found = Factory.name.like(f"%{escaped}%", escape="\\")
    else:
        found = Factory.name.ilike(f"%{escaped}%", escape="\\")
    if len(search) >= INDEXED_LENGTH and db.session.get_bind().dialect.name == "sqlite":
        found = Factory.id.in_(_trigram_matches(search)) & found
    code = credit_code.normalise(search)
    if len(code) == credit_code.LENGTH:
        found = or_(found, Factory.credit_code == code)
    return found


def _trigram_matches(search: str):
    """The ids whose names hold the text's trigrams (SQLite's FTS5 table; case folded)."""
    phrase = '"' + search.replace('"', '""') + '"'
    fts = table(SEARCH_TABLE, column("rowid"))
    return select(fts.c.rowid).where(literal_column(SEARCH_TABLE).op("MATCH")(phrase))
