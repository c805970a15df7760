"""The working calendar: which days count (public holidays, make-up working days, a factory's
closures) and who stands in for a rep on leave."""
