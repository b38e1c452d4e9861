# VRegions offered by this cloud's publisher service: create (from a form or
# a YAML file), publish, withdraw, delete.
PANEL = "mercador_vregions"
PANEL_DASHBOARD = "admin"
PANEL_GROUP = "mercador_publisher"
ADD_PANEL = "mercador.horizon.dashboards.admin.mercador_vregions.panel.VRegions"
