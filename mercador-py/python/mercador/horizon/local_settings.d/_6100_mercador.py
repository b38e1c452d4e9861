# Mercador's Horizon plugin (copy into openstack_dashboard/local/local_settings.d/).
# Horizon exec()s this file inside its settings module, after its own
# settings and local_settings.py.
#
# 1. The region menu's links (/auth/switch_services_region/<region>/) reach
#    Mercador's view first: it opens a K2K session when the region is a
#    vregion and hands every other region to openstack_auth's own view.
# 2. The middleware keeps the home regions in the region menu while the user
#    is in a vregion (her token is then the vregion's, whose catalog has one
#    region).
# Set DEFAULT_SERVICE_REGIONS = {"*": "<a home region>"} in local_settings.py:
# a login must never start in a vregion's region with a home token.
AUTHENTICATION_URLS = ["mercador.horizon.urls"] + [
    u for u in AUTHENTICATION_URLS if u != "mercador.horizon.urls"  # noqa: F821
]
MIDDLEWARE = tuple(m for m in MIDDLEWARE if m != "mercador.horizon.middleware.VregionMiddleware") + (  # noqa: F821
    "mercador.horizon.middleware.VregionMiddleware",
)
