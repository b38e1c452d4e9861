"""Mercador's Horizon plugin: a vregion is one more region of the menu.

Installed with the ``mercador`` wheel into Horizon's venv, switched on by
two files copied into ``openstack_dashboard/local/`` (see
``mercador-py/README.md``, "Horizon"):

- ``enabled/_6100_mercador.py`` adds this app to ``INSTALLED_APPS``;
- ``local_settings.d/_6100_mercador.py`` puts :mod:`mercador.horizon.urls`
  before ``openstack_auth.urls`` in ``AUTHENTICATION_URLS`` (so the region
  menu's links reach :func:`mercador.horizon.views.switch_services_region`)
  and appends :class:`mercador.horizon.middleware.VregionMiddleware`: what
  an ``enabled/`` file cannot express.

Choosing a vregion's region (a region ``<alias>`` of the home Keystone that
has a service provider ``mercador-<alias>`` in the user's token) opens a K2K
session there through :mod:`mercador.horizon.api.mercador` (the Rust K2K
client of ``mercador._native``), scoped to the vregion's project that
matches the user's project at home; the vregion's region of the service
provider is shown under the alias. Choosing one of the home regions brings
the user back home, in the same project.
"""
