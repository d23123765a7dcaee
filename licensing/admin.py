from django.contrib import admin

from portal.admin import ReadOnlyAdmin

from .models import DirectoryUser, LicenseAssignment


@admin.register(DirectoryUser)
class DirectoryUserAdmin(ReadOnlyAdmin):
    list_display = ["display_name", "upn", "tenant", "department"]
    list_select_related = ["tenant"]
    search_fields = ["upn", "display_name"]
    show_full_result_count = False  # tenants have hundreds of thousands of users


@admin.register(LicenseAssignment)
class LicenseAssignmentAdmin(ReadOnlyAdmin):
    list_display = ["user", "subscription", "tenant", "assigned_at"]
    list_select_related = ["user", "subscription__product", "tenant"]
    raw_id_fields = ["user", "subscription"]
    show_full_result_count = False
