"""Pure rules of the domain: money and quantities (fen, kg, rounding, largest remainder), scaled decimals typed
by people (percent, MJ/kg, tons, yuan), months, ID numbers and credit codes (GB 11643, GB 32100, masking), slip
numbers and their check character, barcodes, free text (the characters no typed field may hold).

No database, no clock, no I/O: every function here is a plain function of its arguments. Imports nothing of
subsidy but `subsidy.core.errors`; everything else may import it.
"""
