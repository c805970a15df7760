"""The manager's reports: factories per stage over time and visits per rep (reports), stage
conversion (report_conversion), targets met (report_targets), and the readings kept per scope
that the page and its exports show (kept_reports)."""
