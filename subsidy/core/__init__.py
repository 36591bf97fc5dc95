"""The plumbing every area stands on: engines, sessions and transactions (with the dialect forks), scope,
the audit log, idempotent retries, the clock, settings, the domain's error classes, the one writer of spreadsheet
cells and the masking of ID numbers and phones in the log.

May import `subsidy.rules` and `subsidy.models`; imports no area package.
"""
