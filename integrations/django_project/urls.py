from django.urls import path

from rais.django import rais_view

urlpatterns = [
    path("api/chat", rais_view(provider="openai")),
]
