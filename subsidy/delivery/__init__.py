"""Delivery (配送): the supplier's delivery list and village route sheets, a slip's delivery to the household
(配送到户) with its signed copy, and how soon slips were delivered (the reports' timeliness figures).

May import rules, core, policy, supply (attachments), sales (a slip as written, issuing at the door) and models;
imported by reports and the web layer.
"""
