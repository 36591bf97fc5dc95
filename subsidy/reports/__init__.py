"""Figures over a season: progress against the targets, the monthly report, the home pages' queues, and what the
season publishes to everyone (public.py: the public page, no personal data).

May import every other area; nothing in subsidy imports it.
"""
