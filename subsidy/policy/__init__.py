"""What the bureau decides before the season: towns and villages with their zones, seasons (rates, tiers,
caps, fund shares, targets) and the quality standards batches are judged by.

May import rules, core and models.
"""
