"""Who may log in: passwords, lockout, browser sessions and API tokens; user administration.

May import rules, core and models.
"""
