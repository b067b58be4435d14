"""The numeric design of the joint model (NumPy only): standardised arrays and sums.

:mod:`.standardised` turns validated data into standardised targets and covariates with
the maps back to the data's scale; :mod:`.suffstats` groups rows by missingness pattern.
"""
