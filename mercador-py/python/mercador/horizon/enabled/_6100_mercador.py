# Mercador's Horizon plugin (copy into openstack_dashboard/local/enabled/).
# The region switch into vregions needs the settings snippet
# local_settings.d/_6100_mercador.py as well: an enabled/ file cannot change
# AUTHENTICATION_URLS or MIDDLEWARE.
ADD_INSTALLED_APPS = ["mercador.horizon"]
AUTO_DISCOVER_STATIC_FILES = False
