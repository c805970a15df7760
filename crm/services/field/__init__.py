"""The field: logging a visit (check-in, photos, voice note), the visit form, follow-ups,
distances and the map that needs no map service.
"""
