"""Person matching: which records a search considers and how well each fits.

Layer 4 (see README "Layout"): imports :mod:`fieldgate.ops` and below. A wrong
match is a disclosure, so matching is pure and tested on its own.

Modules:

- :mod:`fieldgate.matching.errors`: the (empty) error tree of matching.
- :mod:`fieldgate.matching.candidates`: the candidate lookup, as SQL on the store's indexes.
- :mod:`fieldgate.matching.matcher`: how well one record's person fits a query; no I/O.
- :mod:`fieldgate.matching.evidence`: a second look at a scored match: how common its name is
  in the store (Fellegi–Sunter), and the query's sex and age range. Pure.
- :mod:`fieldgate.matching.equivalents`: Names that are the same name in another tradition or
  spelling. Pure data, no I/O.
- :mod:`fieldgate.matching.name_forms`: The forms a person's name takes across naming traditions.
  Pure, no I/O.
"""
