"""Trust in the record (issue 22): a visit's corrections with their history, photos that do not
prove their visit (repeated, taken elsewhere or at another time) and the stamp on each stored
photo, the manager's review of flagged visits, and one factory one row (merging a duplicate,
and a belt's likely duplicate pairs)."""
