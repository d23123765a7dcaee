from django.db import models
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

from billing.models import Subscription
from portal.models import Tenant


class DirectoryUser(models.Model):
    """A person in the tenant's directory: the one who holds licenses and keeps working."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="directory_users")
    upn = models.CharField(_("user principal name"), max_length=200)
    display_name = models.CharField(_("display name"), max_length=200)
    department = models.CharField(_("department"), max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["display_name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "upn"], name="directoryuser_upn_unique"),
        ]
        indexes = [
            models.Index(fields=["tenant", "display_name", "id"], name="diruser_tenant_name"),
            models.Index(Upper("display_name"), "tenant", name="diruser_upper_name"),
        ]

    def __str__(self):
        return self.display_name


class LicenseAssignment(models.Model):
    """One directory user holds one license of one subscription."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        DirectoryUser, on_delete=models.CASCADE, related_name="licenses", db_index=False
    )
    # Indexed by (subscription, id) below: an upgrade moves a subscription's licenses in id
    # ranges. The user's own index is the leading column of the unique constraint.
    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="assignments", db_index=False
    )
    # Per-user service toggles: services of the plan switched off for this user.
    disabled_services = models.JSONField(default=list, blank=True)
    assigned_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "subscription"], name="license_one_per_user_per_subscription"
            )
        ]
        indexes = [models.Index(fields=["subscription", "id"], name="license_subscription_id")]
