from django.contrib import admin

from portal.admin import ReadOnlyAdmin

from .models import UpgradeCart, UpgradeRun, UpgradeRunEvent


class UpgradeRunEventInline(admin.TabularInline):
    model = UpgradeRunEvent
    extra = 0
    can_delete = False
    fields = ["at", "from_state", "to_state", "actor", "reason"]
    readonly_fields = fields

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(UpgradeRun)
class UpgradeRunAdmin(ReadOnlyAdmin):
    list_display = ["pk", "tenant", "source", "target", "state", "moved", "total", "placed_at"]
    list_filter = ["state"]
    list_select_related = ["tenant", "source__product", "target"]
    search_fields = ["tenant__name", "tenant__slug"]
    inlines = [UpgradeRunEventInline]


@admin.register(UpgradeCart)
class UpgradeCartAdmin(ReadOnlyAdmin):
    list_display = ["pk", "tenant", "source", "target", "quantity", "order", "updated_at"]
    list_select_related = ["tenant", "source__product", "target", "order"]
