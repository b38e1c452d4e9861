from django.urls import re_path

from mercador.horizon.dashboards.admin.mercador_vregions import views

urlpatterns = [
    re_path(r"^$", views.IndexView.as_view(), name="index"),
    re_path(r"^create/$", views.CreateView.as_view(), name="create"),
    re_path(r"^create-yaml/$", views.CreateFromYamlView.as_view(), name="create_yaml"),
]
