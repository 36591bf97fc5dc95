"""Government spot checks (抽检) and what follows from them: the verdict by the season's standard, the frozen batch,
the case, the slips already sold from it, the re-tests (复检) due, and the coverage figures (抽检覆盖率).

May import rules, core, policy, supply, oversight and models; imported by reports and the web layer.
"""
