"""Imports of factories and figures from spreadsheets: formats, staged rows, dry run and apply."""
