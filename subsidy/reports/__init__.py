"""Figures over a season: progress against the targets, the monthly report, the home pages' queues, what the
season publishes to everyone (public.py: the public page, no personal data), and the reports to the level above: the
dispatch report of a day, week or month (dispatch.py, 调度表) and the season's acceptance report with the closing of a
season (acceptance.py, 考核验收). Reporting upward lives here rather than in an area of its own because it is the same
kind of thing as progress and the monthly report (scoped GROUP BYs over the registry, sales, settlement and cases,
laid out on settlement/sheets.py's forms) and reuses them; DESIGN.md's "reports/" lists dispatch and acceptance too.

May import every other area; nothing in subsidy imports it.
"""
