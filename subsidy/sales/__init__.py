"""The sales slip: the counter's lookup, preview and issuing (the hot path), the slip as written, voiding,
scanning the offices' copies, lists and exports.

May import rules, core, policy, registry, supply, settlement.summaries (a void changes its summary's totals) and
models; imported by reports and the web layer.
"""
