"""Trust in the record (issue 22): a visit's corrections with their history, photos that
repeat an earlier one, and the manager's review of flagged visits."""
