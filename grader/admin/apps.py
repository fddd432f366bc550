"""The admin app, with grader's site as the default one (``django.contrib.admin.site`` is a GraderAdminSite)."""

from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class GraderAdminConfig(AdminConfig):
    default_site = "grader.admin.site.GraderAdminSite"

    def ready(self) -> None:
        super().ready()  # other apps' admin modules register auth, groups and the beat schedule
        from django.contrib import admin

        from grader.admin.site import register

        register(admin.site)
