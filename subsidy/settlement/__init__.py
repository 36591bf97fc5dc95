"""Month end: summaries built from the slips and reviewed town → bureau → finance, set-aside slips,
statements split by fund and their payment, and the official spreadsheets.

May import rules, core, accounts, policy, supply, sales and models; imported by reports and the web layer.
"""
