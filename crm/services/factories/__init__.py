"""Factories as records: staff's edits, their values field by field, the credit code, the
factory list and page, and reassignment.
"""
