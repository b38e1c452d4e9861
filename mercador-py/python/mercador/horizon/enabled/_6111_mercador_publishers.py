# Publishers registered at this cloud's subscriber service: register, list,
# remove; discover their offers and subscribe with an alias.
PANEL = "mercador_publishers"
PANEL_DASHBOARD = "admin"
PANEL_GROUP = "mercador_subscriber"
ADD_PANEL = "mercador.horizon.dashboards.admin.mercador_publishers.panel.Publishers"
