"""Clean-coal and energy-saving stove subsidy management: the domain.

Nothing in this package imports the web framework: the command line, the web layer and the tests all call the
same service functions.
"""
