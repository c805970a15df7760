"""The factory's portal: what a factory user may see of its growth, the evidence it hands in,
and the colleagues its owner invites.
"""
