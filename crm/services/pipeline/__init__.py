"""The manager's pipeline: the overview, the board and its moves, stuck factories, reports and
the team page.
"""
