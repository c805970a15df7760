"""The install itself: the admin's settings, the scheduler and its leader lease, work requests,
readiness, the audit log and the sweep of stored files no row names.
"""
