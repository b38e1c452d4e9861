"""The plugin's Django app (label ``mercador_horizon``: ``horizon`` is Horizon's own)."""

from django.apps import AppConfig


class MercadorHorizonConfig(AppConfig):
    name = "mercador.horizon"
    label = "mercador_horizon"
    verbose_name = "Mercador"
