from django.urls import re_path

from mercador.horizon.dashboards.admin.mercador_partners import views

urlpatterns = [
    re_path(r"^$", views.IndexView.as_view(), name="index"),
    re_path(r"^onboard/$", views.OnboardView.as_view(), name="onboard"),
]
