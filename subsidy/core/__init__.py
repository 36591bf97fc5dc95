"""The plumbing every area stands on: engines, sessions and transactions (with the dialect forks), scope,
the audit log, idempotent retries, the clock, settings and the domain's error classes.

May import `subsidy.rules` and `subsidy.models`; imports no area package.
"""
