from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from billing.models import BillingFrequency, Order, PaymentMethod, Product, Subscription
from portal.models import Tenant
from portal.texts import StoredTextField


class RunState(models.TextChoices):
    # Placed for a maintenance window: nothing is charged and nobody is locked out until the
    # window starts (the reconciler starts it); it can be cancelled or moved until then.
    SCHEDULED = "scheduled", _("Scheduled")
    PLACED = "placed", _("Order placed")
    AWAITING_CREDIT_CHECK = "awaiting_credit_check", _("Waiting for a credit check")
    PROVISIONING = "provisioning", _("Buying the new plan")
    MOVING_LICENSES = "moving_licenses", _("Moving licenses")
    REMOVING_ADDONS = "removing_addons", _("Removing and moving add-ons")
    CANCELLING_SOURCE = "cancelling_source", _("Cancelling the old plan")
    COMPLETED = "completed", _("Completed")
    DECLINED = "declined", _("Credit check declined")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


TERMINAL_STATES = frozenset(
    {RunState.COMPLETED, RunState.DECLINED, RunState.FAILED, RunState.CANCELLED}
)


class UpgradeCart(models.Model):
    """One admin's upgrade of one subscription to one target, from the Upgrade tab to Place
    order. The pricing snapshot is frozen when checkout opens; the order charges exactly it."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="upgrade_carts")
    source = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="+")
    target = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    billing_frequency = models.CharField(
        _("billing frequency"), max_length=10, choices=BillingFrequency.choices
    )
    quantity = models.PositiveIntegerField(_("licenses"))
    payment_method = models.CharField(
        _("payment method"),
        max_length=10,
        choices=PaymentMethod.choices,
        default=PaymentMethod.CARD,
    )
    po_number = models.CharField(_("PO number"), max_length=60, blank=True)
    sold_to = models.JSONField(default=dict, blank=True)
    billed_to = models.JSONField(default=dict, blank=True)
    snapshot = models.JSONField(null=True, blank=True)
    snapshot_at = models.DateTimeField(null=True, blank=True)
    # The maintenance window chosen at checkout (None: start as soon as the order is placed).
    scheduled_for = models.DateTimeField(null=True, blank=True)
    # Renewed whenever the snapshot is frozen again: the idempotency key of the order placed
    # from that snapshot, so a replayed Place order finds the same order.
    checkout_token = models.CharField(max_length=64, blank=True)
    order = models.OneToOneField(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="upgrade_cart"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="upgradecart_quantity_gte_1")
        ]


class UpgradeRun(models.Model):
    """The durable state of one upgrade: the Celery job only ever reads and advances this row."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="upgrade_runs")
    source = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="upgrade_runs_from"
    )
    target = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    new_subscription = models.ForeignKey(
        Subscription,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="upgrade_runs_to",
    )
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="upgrade_run")
    state = models.CharField(max_length=30, choices=RunState.choices, default=RunState.PLACED)
    failed_step = models.CharField(max_length=30, choices=RunState.choices, blank=True)
    failure_reason = StoredTextField(blank=True)
    last_error = models.TextField(blank=True)
    moved = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    # Keyset position of the license move: every assignment of the source with a smaller id
    # has been moved. Committed with each batch, so a killed worker resumes where it stopped.
    move_cursor = models.BigIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    # The same unexpected error (step, type and message) raised this many times in a row: at
    # PORTAL_UPGRADE_MAX_INTERNAL_ERRORS the run fails instead of retrying forever.
    error_signature = models.CharField(max_length=64, blank=True)
    error_count = models.PositiveSmallIntegerField(default=0)
    # What the steps changed that a failure must put back (written in the transaction of the
    # step that made the change): the removed add-ons' former state and holders, the add-ons
    # re-attached to the new plan. Emptied once the failure is compensated.
    undo = models.JSONField(default=dict, blank=True)
    # What the run did to the add-ons, kept for its report (undo is emptied at the end):
    # {"removed_addons": [{"id", "product", "holders"}], "moved_addons": [...]}.
    record = models.JSONField(default=dict, blank=True)
    heartbeat_at = models.DateTimeField()
    # When the run entered each step, by state (ISO times): what the status page shows beside
    # its steps, read with the run itself (the events table holds the full history).
    step_times = models.JSONField(default=dict, blank=True)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    placed_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # The start of the maintenance window the admin chose (None: started when placed).
    scheduled_for = models.DateTimeField(null=True, blank=True)
    # Real (wall-clock) times of the work, for the duration estimate: the simulated clock
    # runs fast in the demo, so it cannot measure how long moving a license takes.
    work_started_at = models.DateTimeField(null=True, blank=True)
    move_started_at = models.DateTimeField(null=True, blank=True)
    move_finished_at = models.DateTimeField(null=True, blank=True)
    work_finished_at = models.DateTimeField(null=True, blank=True)
    # The expected duration when the order was placed (upgrades.estimate: seconds, low, high,
    # the runs it learnt from), kept so the status page shows it without a query.
    estimate = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-placed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"],
                condition=~Q(state__in=sorted(TERMINAL_STATES)),  # sorted: a stable migration
                name="upgraderun_one_active_per_tenant",
            ),
            models.CheckConstraint(
                condition=Q(state__in=[s.value for s in RunState]), name="upgraderun_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(moved__lte=models.F("total")), name="upgraderun_moved_lte_total"
            ),
        ]
        indexes = [
            models.Index(fields=["state", "heartbeat_at"]),
            models.Index(fields=["state", "scheduled_for"]),
        ]

    def __str__(self):
        return f"Upgrade {self.pk}: {self.source_id} -> {self.target_id} ({self.state})"

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def percent(self) -> int:
        if self.state == RunState.COMPLETED:
            return 100
        return int(self.moved * 100 / self.total) if self.total else 0


class UpgradeRunToggleUndo(models.Model):
    """The per-user service toggles a license had before the move reset them to the new plan's
    full set: written with each moved batch (only for licenses that had some switched off), so
    that a failed run gives every user back exactly the service they had."""

    run = models.ForeignKey(UpgradeRun, on_delete=models.CASCADE, related_name="+")
    assignment_id = models.BigIntegerField()
    disabled_services = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "assignment_id"], name="upgraderuntoggleundo_unique"
            )
        ]


class UpgradeRunBatch(models.Model):
    """One committed batch of the license move: the source's assignments with ids in
    (after_id, last_id] moved at `at` (real time). The report lists each user with the time of
    its batch; the estimate learns throughput from them. Written in the batch's transaction."""

    run = models.ForeignKey(UpgradeRun, on_delete=models.CASCADE, related_name="batches")
    number = models.PositiveIntegerField()
    after_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    moved = models.PositiveIntegerField()
    at = models.DateTimeField()
    # Real seconds the batch's statements took (its share of the lock window).
    seconds = models.FloatField(default=0.0)

    class Meta:
        ordering = ["run", "number"]
        constraints = [
            models.UniqueConstraint(fields=["run", "number"], name="upgraderunbatch_unique")
        ]


class SupportRequest(models.Model):
    """An admin's "Contact support" request, tied to the subscription or run it is about, which
    support engineers see in the console."""

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        ANSWERED = "answered", _("Answered")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="support_requests")
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    run = models.ForeignKey(
        UpgradeRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="support_requests",
    )
    topic = models.CharField(_("topic"), max_length=40)
    message = models.TextField(_("message"), max_length=4000)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    answer = models.TextField(blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["state", "created_at"])]


class UpgradeRunEvent(models.Model):
    """History of a run: one row per state change (from, to, when, who, why)."""

    run = models.ForeignKey(UpgradeRun, on_delete=models.CASCADE, related_name="events")
    from_state = models.CharField(max_length=30, blank=True)
    to_state = models.CharField(max_length=30)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = StoredTextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]
