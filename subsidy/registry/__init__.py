"""Households, their purchase registrations per season, the village's public notice and the town's
approval, and the registration form as a spreadsheet (import and export).

May import rules, core, policy and models.
"""
