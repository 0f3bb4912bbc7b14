"""The diagnosis as it was before the hostile-input and speed work (frozen copy, commit da27c5b).

Only for equivalence tests: the rewritten regexes and the per-shape caches
must group, classify and normalise exactly as this reference does on
ordinary input.  Never imported by the product.
"""
