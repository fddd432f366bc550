from django.urls import path

from grader.lti import views

app_name = "lti"

urlpatterns = [
    path("login/", views.oidc_login, name="login"),
    path("launch/", views.launch, name="launch"),
    path("jwks/", views.jwks, name="jwks"),
    path("attempt/<str:token>/", views.attempt, name="attempt"),
    path("workspace/<str:token>/", views.workspace_handoff, name="workspace"),
    path("link/<str:token>/", views.link_question, name="link_question"),
    path("deep-link/<str:token>/", views.deep_link_respond, name="deep_link"),
    path("register/<str:token>/", views.dynamic_registration, name="register"),
]
