"""The Django admin, read-only: support engineers (staff) browse the main models there; every
change goes through the services, which validate, lock and audit."""

from django.contrib import admin

from .models import (
    AdminLock,
    ApiToken,
    AuditEvent,
    Membership,
    Notification,
    ServiceIncident,
    Tenant,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """View only, for every staff user: no add, change or delete, and no bulk actions."""

    actions = None

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Tenant)
class TenantAdmin(ReadOnlyAdmin):
    list_display = ["name", "slug", "currency", "country", "created_at"]
    search_fields = ["name", "slug"]


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ["user", "tenant", "role"]
    list_filter = ["role"]
    list_select_related = ["user", "tenant"]
    search_fields = ["user__username", "tenant__name", "tenant__slug"]


@admin.register(AdminLock)
class AdminLockAdmin(ReadOnlyAdmin):
    list_display = ["tenant", "holder", "reason", "since"]
    list_select_related = ["tenant"]


@admin.register(ServiceIncident)
class ServiceIncidentAdmin(ReadOnlyAdmin):
    list_display = ["title", "tenant", "opened_at", "resolved_at"]
    list_select_related = ["tenant"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["tenant", "level", "message", "created_at"]
    list_filter = ["level"]
    list_select_related = ["tenant"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "tenant", "actor", "action", "target", "reason"]
    list_filter = ["action"]
    list_select_related = ["tenant", "actor"]
    search_fields = ["action", "target", "tenant__slug"]


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    # The hash is left out: nothing to gain from showing it.
    fields = ["membership", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_display = ["name", "prefix", "membership", "created_at", "last_used_at", "revoked_at"]
    list_select_related = ["membership__user", "membership__tenant"]
