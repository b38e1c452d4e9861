# Mercador's Horizon plugin (copy or link every _61*.py of this directory into
# openstack_dashboard/local/enabled/). FEATURE: Horizon skips an enabled file
# without DASHBOARD, PANEL, PANEL_GROUP or FEATURE. The region switch into
# vregions needs the settings snippet local_settings.d/_6100_mercador.py as
# well: an enabled/ file cannot change AUTHENTICATION_URLS or MIDDLEWARE.
FEATURE = "mercador"
ADD_INSTALLED_APPS = ["mercador.horizon"]
AUTO_DISCOVER_STATIC_FILES = False
