"""Keystone plugins of Mercador, run inside the publisher's Keystone (B).

- :mod:`mercador.keystone.catalog`: the catalog driver ``mercador``
  (entry point group ``keystone.catalog``), Keystone's SQL driver that
  confines the catalog of a token scoped to a project of a vregion's
  domain to the vregion's service types in its region.
- :mod:`mercador.keystone.confine`: the filtering and the vregion index,
  free of Keystone imports (unit-tested without Keystone).
"""
