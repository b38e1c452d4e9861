# Partners (subscriber clouds) of this cloud's publisher service: onboard
# (the application credential's secret is shown once), remove.
PANEL = "mercador_partners"
PANEL_DASHBOARD = "admin"
PANEL_GROUP = "mercador_publisher"
ADD_PANEL = "mercador.horizon.dashboards.admin.mercador_partners.panel.Partners"
