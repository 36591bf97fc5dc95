"""The suppliers' side before a sale: suppliers, contracts per town and product, coal batches with their
test reports and stock, the in/out ledger, and attached scans.

May import rules, core, policy and models.
"""
