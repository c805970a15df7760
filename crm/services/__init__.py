"""The rules of DESIGN.md, as plain functions that take the acting user as an argument."""
