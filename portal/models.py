from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .texts import StoredTextField


class Currency(models.TextChoices):
    USD = "USD", "USD"
    EUR = "EUR", "EUR"
    SEK = "SEK", "SEK"
    CNY = "CNY", "CNY"


class Tenant(models.Model):
    """An organisation that buys subscriptions: also the "Sold to" of every order."""

    name = models.CharField(_("organisation"), max_length=200)
    slug = models.SlugField(_("short name"), max_length=60, unique=True)
    address_line = models.CharField(_("address"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    country = models.CharField(_("country"), max_length=2, default="US")
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    language = models.CharField(_("language"), max_length=10, default="en")
    # An IANA zone name: maintenance windows are chosen and shown in it.
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tenant")

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    GLOBAL_ADMIN = "global_admin", _("Global admin")
    BILLING_ADMIN = "billing_admin", _("Billing admin")
    LICENSE_ADMIN = "license_admin", _("License admin")
    USER_ADMIN = "user_admin", _("User admin")
    GLOBAL_READER = "global_reader", _("Global reader")


class Membership(models.Model):
    """An admin account's role in one tenant's admin center."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "tenant"], name="membership_one_role_per_tenant"
            ),
            models.CheckConstraint(
                condition=Q(role__in=[r.value for r in Role]), name="membership_role_valid"
            ),
        ]

    def __str__(self):
        return f"{self.user} @ {self.tenant}: {self.get_role_display()}"


class AdminLock(models.Model):
    """A blocking state on a tenant: while it exists the tenant's admins see the
    "upgrade in progress" page. The upgrade run sets and clears it; the middleware reads it.

    The holder is a generic reference (any model of a higher app, today an upgrade run), so
    portal names what holds the lock without importing the app that holds it."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="admin_lock")
    reason = StoredTextField()
    holder_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    holder_id = models.PositiveBigIntegerField()
    holder = GenericForeignKey("holder_type", "holder_id")
    status_url = models.CharField(max_length=300, blank=True)
    since = models.DateTimeField()

    def __str__(self):
        return f"{self.tenant}: {self.reason}"

    @property
    def message(self) -> str:
        """What a locked-out admin reads, on the lock page and in the API's 423."""
        return str(
            _(
                "An upgrade is in progress for %(tenant)s. The admin center is locked until it "
                "finishes; your users keep working as usual."
            )
            % {"tenant": self.tenant.name}
        )

    @property
    def holder_ref(self) -> dict:
        """What holds the lock, as plain data (audit events, logs)."""
        return {"type": self.holder_type.natural_key(), "id": self.holder_id}


class ServiceIncident(models.Model):
    """A service-health incident. Tenant-less incidents affect every tenant."""

    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="incidents"
    )
    title = models.CharField(_("title"), max_length=200)
    opened_at = models.DateTimeField()
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["resolved_at"])]

    def __str__(self):
        return self.title


class Notification(models.Model):
    class Level(models.TextChoices):
        INFO = "info", _("Information")
        SUCCESS = "success", _("Success")
        WARNING = "warning", _("Warning")
        ERROR = "error", _("Error")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="notifications")
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.INFO)
    message = StoredTextField()
    link = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["tenant", "-created_at"])]


class NotificationRead(models.Model):
    """One admin has read one notification. Read state is each admin's own: one admin reading
    (or a reader marking everything read) changes nothing for the others."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="reads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "notification"], name="notification_read_once_per_admin"
            )
        ]


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Audit events are append-only")

    def delete(self):
        raise TypeError("Audit events are append-only")


class AuditEvent(models.Model):
    """Append-only: rows are inserted, never changed or removed (a database trigger enforces
    it on PostgreSQL; the model refuses it everywhere)."""

    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=80)
    target = models.CharField(max_length=120, blank=True)
    reason = StoredTextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["tenant", "-created_at"])]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("Audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Audit events are append-only")


class ClockState(models.Model):
    """The simulated clock, shared by every process: simulated now =
    sim_anchor + (real now - real_anchor) * speed. A single row (pk=1)."""

    real_anchor = models.DateTimeField()
    sim_anchor = models.DateTimeField()
    speed = models.FloatField(default=1.0)
    # When the periodic task last saw the clock (real time): a fast clock that was not seen
    # for a while (the demo was stopped) resumes from there instead of jumping ahead.
    ticked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="clockstate_singleton")]


class ApiToken(models.Model):
    """A bearer token for the JSON API, owned by one admin membership: it acts as that admin,
    in that tenant only, with that admin's role at the time of each request. Only a hash of the
    token is stored; the token itself is shown once, when it is created."""

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    # The first characters of the token, kept so an admin can tell tokens apart.
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    # Chosen at creation, never later than PORTAL_API_TOKEN_MAX_DAYS after it.
    expires_at = models.DateTimeField()
    # What the token may do, within its admin's role: a subset of portal.roles.TokenScope.
    scopes = models.JSONField(default=list)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("API token")

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self):
        return self.revoked_at is None


class ApiIdempotencyKey(models.Model):
    """The first result of an API request sent with an Idempotency-Key header. A replay of the
    key with the same request gets this result again; with a different request it is refused.
    Written in the same transaction as the request's effects, so a request that failed leaves
    no key behind and may be sent again."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    # SHA-256 of the method, path and canonical JSON body.
    fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="api_idempotency_key_unique")
        ]


class ApiTokenFailure(models.Model):
    """Invalid API tokens presented from one client address within the current window: the API's
    guard against token guessing (portal.api.services.api_token_failure_record). One row per
    address, written by one upsert. A table rather than a cache: the embedded demo runs
    without Redis, and nothing may live in one process's memory."""

    address = models.CharField(max_length=100, unique=True)
    # Real time, in whole seconds since the epoch: the throttle holds back a real client, so the
    # simulated clock (days in minutes in the demo) must not shorten it, and an integer compares
    # the same in PostgreSQL and SQLite inside the upsert.
    window_started = models.BigIntegerField(db_index=True)
    failures = models.PositiveIntegerField()

    def __str__(self):
        return f"{self.address}: {self.failures}"
