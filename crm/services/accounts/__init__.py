"""Accounts: sign-in and its sessions, the second factor, reset links, API tokens, users and the
teams they belong to or lead.
"""
