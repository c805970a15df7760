"""The demo install (`flask crm seed-demo`): believable data and the demo logins, apart from
the product's rules; only the CLI, the bench and the tests import it.
"""
