"""Figures over a season: progress against the targets, the monthly report, the home pages' queues.

May import every other area; nothing in subsidy imports it.
"""
