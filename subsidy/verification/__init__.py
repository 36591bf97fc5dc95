"""Delivery checks by the offices: callbacks (回访抽查), a seeded random sample of a submitted summary's slips and
the call to each sampled household; a discrepancy sets the slip aside from its summary and opens a case.

May import rules, core, policy, settlement (the set-aside), oversight (the case) and models; imported by reports and
the web layer. Settlement reads the sample through the tables (its approval gate), never through this package.
"""
