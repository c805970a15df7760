"""Notices: in-app notifications and the inbox, e-mail, and the teams' group robots."""
