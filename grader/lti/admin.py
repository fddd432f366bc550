"""Operators register platforms here; the tool configuration page shows what an LMS administrator needs."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from grader.lti.models import LtiContext, Platform, ScorePassback, ToolKey
from grader.lti.registration import registration_link_create
from grader.lti.views import tool_urls


class PlatformForm(forms.ModelForm):
    class Meta:
        model = Platform
        fields = [
            "name", "issuer", "client_id", "deployment_ids", "auth_login_url", "auth_token_url", "auth_audience",
            "key_set_url", "is_active",
        ]  # fmt: skip

    def clean_deployment_ids(self) -> list[str]:
        value = self.cleaned_data["deployment_ids"]
        if not isinstance(value, list) or not value or not all(isinstance(item, str) and item for item in value):
            raise forms.ValidationError('A JSON list of the deployment IDs the LMS shows, e.g. ["1"].')
        return value


class PlatformAdmin(admin.ModelAdmin):
    form = PlatformForm
    list_display = ["name", "issuer", "client_id", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "issuer", "client_id"]
    change_list_template = "admin/lti/platform/change_list.html"

    def get_urls(self):
        configuration = self.admin_site.admin_view(self.tool_configuration_view)
        link = self.admin_site.admin_view(self.registration_link_view)
        return [
            path("tool-configuration/", configuration, name="lti_tool_configuration"),
            path("registration-link/", link, name="lti_registration_link"),
            *super().get_urls(),
        ]

    def registration_link_view(self, request):
        """A one-time dynamic registration link, made by an operator on purpose (POST) and shown once."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        url = None
        if request.method == "POST":
            link = registration_link_create(created_by=request.user)
            url = request.build_absolute_uri(reverse("lti:register", args=[link.token]))
        context = {
            **self.admin_site.each_context(request),
            "title": "LTI dynamic registration link",
            "url": url,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/lti/registration_link.html", context)

    def tool_configuration_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied  # platform registrations are an operator's, not a course teacher's
        context = {
            **self.admin_site.each_context(request),
            "title": "grader as an LTI 1.3 tool: values for the LMS",
            "urls": tool_urls(request),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/lti/tool_configuration.html", context)


class ToolKeyAdmin(admin.ModelAdmin):
    list_display = ["kid", "created_at", "retired_at"]
    fields = ["kid", "public_jwk", "created_at", "retired_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # `manage.py rotate_lti_key` creates keys

    def has_change_permission(self, request, obj=None):
        return False


class LtiContextAdmin(admin.ModelAdmin):
    list_display = ["context_id", "platform", "course_link", "created_at"]
    list_filter = ["platform"]
    readonly_fields = ["platform", "context_id", "course", "created_at"]

    @admin.display(description="course")
    def course_link(self, context: LtiContext) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:grader_course_change", args=[context.course_id]), context.course
        )

    def has_add_permission(self, request):
        return False


class ScorePassbackAdmin(admin.ModelAdmin):
    list_display = ["submission", "status", "attempts", "last_status_code", "created_at", "sent_at"]
    list_filter = ["status"]
    readonly_fields = [
        "launch", "submission", "score", "status", "attempts", "next_attempt_at", "last_status_code", "last_error",
        "created_at", "sent_at",
    ]  # fmt: skip

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def register(site: admin.AdminSite) -> None:
    """The LTI models on ``site``: platforms for operators, the rest read-only."""
    site.register(Platform, PlatformAdmin)
    site.register(ToolKey, ToolKeyAdmin)
    site.register(LtiContext, LtiContextAdmin)
    site.register(ScorePassback, ScorePassbackAdmin)


register(admin.site)
