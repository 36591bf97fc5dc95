"""Oversight: cases (投诉举报与问题线索) opened by hand or by the system, handled by the town or the bureau; later the
anomaly rules and the public page.

May import rules, core, policy and models (it reads households, slips, suppliers and batches through the tables,
never through their areas); imported by reports and the web layer, and by any area that opens a case.
"""
