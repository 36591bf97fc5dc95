"""Month end: summaries built from the slips and reviewed town → bureau → finance, set-aside slips,
statements split by fund and their payment, and the official spreadsheets.

May import rules, core, accounts, policy and models: it reads slips through the tables, never through sales/,
which imports it (a void recomputes its summary's totals); imported by sales, reports and the web layer.
"""
