"""Blueprints, one per audience: parse, authorise through crm.scope, call one service, render."""
