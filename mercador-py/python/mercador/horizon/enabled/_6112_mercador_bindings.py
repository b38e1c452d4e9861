# Bindings (subscribed vregions, regions of this cloud): show, refresh, cancel.
PANEL = "mercador_bindings"
PANEL_DASHBOARD = "admin"
PANEL_GROUP = "mercador_subscriber"
ADD_PANEL = "mercador.horizon.dashboards.admin.mercador_bindings.panel.Bindings"
