"""Webhook endpoints and the delivery log in the admin; a failed delivery can be sent again from here."""

from __future__ import annotations

from django.contrib import admin

from grader.models import WebhookDelivery, WebhookEndpoint
from grader.services.webhooks import webhook_delivery_replay


class SuperuserOnlyAdmin(admin.ModelAdmin):
    """Webhooks belong to integrations, which may serve several schools' courses: an operator's tool."""

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    # Django opens the list and change pages to the change permission alone, and its filters list every
    # integration's name: each permission needs the superuser, whatever permissions a teacher was given.
    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.none()


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(SuperuserOnlyAdmin):
    list_display = ["id", "integration", "url", "events", "is_active", "created_at"]
    list_filter = ["is_active", "integration"]
    readonly_fields = ["integration", "url", "events", "created_at"]
    exclude = ["secret"]  # the HMAC key stays out of pages and logs; endpoints are registered through the API


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(SuperuserOnlyAdmin):
    list_display = [
        "id",
        "event_type",
        "endpoint",
        "submission",
        "status",
        "attempts",
        "last_status_code",
        "created_at",
    ]
    list_filter = ["status", "event_type", "endpoint__integration"]
    search_fields = ["event_id", "endpoint__url"]
    list_select_related = ["endpoint", "endpoint__integration"]
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]
    actions = ["replay"]

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Send the selected deliveries again (same event id and signed body)")
    def replay(self, request, queryset):
        deliveries = list(queryset.select_related("endpoint"))
        for delivery in deliveries:
            webhook_delivery_replay(delivery=delivery)
        self.message_user(request, f"{len(deliveries)} delivery(ies) queued again; see the new rows for results.")
