from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from portal.models import Currency, Tenant
from portal.texts import StoredTextField

# --- Catalog -------------------------------------------------------------------------------


class ProductKind(models.TextChoices):
    PLAN = "plan", _("Plan")
    ADDON = "addon", _("Add-on")


class AddonScope(models.TextChoices):
    PER_USER = "per_user", _("Per user")
    TENANT = "tenant", _("Tenant capacity")


class Product(models.Model):
    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(_("product"), max_length=120)
    kind = models.CharField(max_length=10, choices=ProductKind.choices)
    on_sale = models.BooleanField(_("on sale"), default=True)
    seat_cap = models.PositiveIntegerField(_("seat cap"), null=True, blank=True)
    addon_scope = models.CharField(max_length=10, choices=AddonScope.choices, blank=True)
    unit = models.CharField(max_length=20, default="license")
    services = models.JSONField(default=list, blank=True, help_text="Data services the plan has")
    includes = models.ManyToManyField(
        "self", symmetrical=False, related_name="included_in", blank=True
    )
    accepts = models.ManyToManyField(
        "self", symmetrical=False, related_name="accepted_by", blank=True
    )
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="addon", addon_scope__in=["per_user", "tenant"])
                | Q(kind="plan", addon_scope=""),
                name="product_addon_scope_matches_kind",
            )
        ]

    def __str__(self):
        return self.name

    @property
    def is_addon(self):
        return self.kind == ProductKind.ADDON


class UpgradePath(models.Model):
    source = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="upgrade_paths")
    target = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="upgrade_sources")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "target"], name="upgradepath_unique"),
            models.CheckConstraint(condition=~Q(source=F("target")), name="upgradepath_not_self"),
        ]


class Price(models.Model):
    """List price per license (or per unit) per month."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="prices")
    currency = models.CharField(max_length=3, choices=Currency.choices)
    monthly = models.DecimalField(max_digits=10, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "currency"], name="price_unique"),
            models.CheckConstraint(condition=Q(monthly__gte=0), name="price_not_negative"),
        ]


# --- Subscriptions -------------------------------------------------------------------------


class Status(models.TextChoices):
    PROVISIONING = "provisioning", _("Provisioning")
    ACTIVE = "active", _("Active")
    EXPIRED = "expired", _("Expired")
    DISABLED = "disabled", _("Disabled")
    DELETED = "deleted", _("Deleted")


class BillingFrequency(models.TextChoices):
    MONTHLY = "monthly", _("Monthly")
    YEARLY = "yearly", _("Yearly")


class Channel(models.TextChoices):
    DIRECT_CARD = "direct_card", _("Direct, by card")
    DIRECT_INVOICE = "direct_invoice", _("Direct, by invoice")
    PARTNER = "partner", _("Partner")
    VOLUME = "volume", _("Volume licensing")


class Offer(models.TextChoices):
    COMMERCIAL = "commercial", _("Commercial")
    GOVERNMENT = "government", _("Government")
    NONPROFIT = "nonprofit", _("Non-profit")


class Subscription(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="subscriptions")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="subscriptions")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="addons"
    )
    # Mirrors product.kind so that the database itself can insist an add-on has a base.
    is_addon = models.BooleanField(default=False)
    quantity = models.IntegerField(_("licenses"), validators=[MinValueValidator(0)])
    billing_frequency = models.CharField(
        _("billing frequency"), max_length=10, choices=BillingFrequency.choices
    )
    channel = models.CharField(_("purchase channel"), max_length=20, choices=Channel.choices)
    is_trial = models.BooleanField(_("trial"), default=False)
    is_prepaid = models.BooleanField(_("prepaid"), default=False)
    offer = models.CharField(max_length=12, choices=Offer.choices, default=Offer.COMMERCIAL)
    recurring_billing = models.BooleanField(_("recurring billing"), default=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices)
    status_since = models.DateTimeField()
    paid_through = models.DateField(_("paid through"))
    # The price per license per month charged for the current term: licenses added during the
    # term cost it, and credits for unused time give it back. A new term (renewal,
    # reactivation) is charged at the list price of its day.
    term_unit_price = models.DecimalField(
        _("price per license per month"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    # The first day of the current term (its last is paid_through); empty for subscriptions
    # from before terms were recorded, whose term is counted back from paid_through.
    term_start = models.DateField(null=True, blank=True)
    ready_at = models.DateTimeField(
        null=True, blank=True, help_text="When provisioning finishes (simulated set-up delay)"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=0), name="subscription_quantity_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(is_addon=True, parent__isnull=False)
                | Q(is_addon=False, parent__isnull=True),
                name="subscription_addon_has_base",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in Status]), name="subscription_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "status"])]

    def __str__(self):
        return f"{self.product.name} ({self.tenant})"


class SubscriptionStatusChange(models.Model):
    """History of every lifecycle transition: who, when, from, to, why."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="status_history"
    )
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = StoredTextField(blank=True)

    # Reasons the system records are stored as these stable English codes and translated when
    # shown; anything else is an admin's own words and shown as written.
    SYSTEM_REASONS = {
        "created": _("Bought"),
        "set-up finished": _("Set-up finished"),
        "lifecycle": _("Lifecycle: time in the previous state ran out"),
        "paid period ended": _("The paid period ended and recurring billing is off"),
        "reactivated": _("Reactivated by an admin"),
        "cancelled by admin": _("Cancelled by an admin"),
        "renewal unpaid": _(
            "The renewal invoice was not paid within the grace period; it was cancelled"
        ),
        "cancelled: upgrade failed": _(
            "Cancelled: the upgrade that bought it failed, and its charge was reversed"
        ),
        "given back: upgrade failed": _(
            "Given back: the upgrade that removed it failed, and its credit was reversed"
        ),
    }

    class Meta:
        ordering = ["at", "pk"]

    @property
    def from_label(self):
        return Status(self.from_status).label if self.from_status in Status.values else ""

    @property
    def to_label(self):
        return Status(self.to_status).label if self.to_status in Status.values else self.to_status

    @property
    def reason_display(self):
        return self.SYSTEM_REASONS.get(str(self.reason), self.reason)


# --- Billing profile, orders, invoices, payments -------------------------------------------


class BillingProfile(models.Model):
    """The "Billed to" side of orders and what the tenant pays with."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="billing_profile")
    contact_name = models.CharField(_("billing contact"), max_length=200)
    contact_email = models.EmailField(_("email"))
    address_line = models.CharField(_("address"), max_length=200)
    city = models.CharField(_("city"), max_length=100)
    postal_code = models.CharField(_("postal code"), max_length=20)
    country = models.CharField(_("country"), max_length=2)
    po_number = models.CharField(_("PO number"), max_length=60, blank=True)
    card_brand = models.CharField(_("card"), max_length=20, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    # Simulated payment token: "tok_decline" is a card that the simulated processor refuses.
    card_token = models.CharField(max_length=40, blank=True)
    invoice_eligible = models.BooleanField(_("may pay by invoice"), default=False)

    @property
    def has_card(self):
        return bool(self.card_token)


class PaymentMethod(models.TextChoices):
    CARD = "card", _("Card on file")
    INVOICE = "invoice", _("Invoice")


class Order(models.Model):
    class Kind(models.TextChoices):
        PURCHASE = "purchase", _("New subscription")
        UPGRADE = "upgrade", _("Upgrade")

    class State(models.TextChoices):
        PLACED = "placed", _("Placed")
        COMPLETED = "completed", _("Completed")
        DECLINED = "declined", _("Declined")
        FAILED = "failed", _("Failed")
        # A scheduled order cancelled before its window: nothing was ever charged.
        CANCELLED = "cancelled", _("Cancelled")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="orders")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PLACED)
    idempotency_key = models.CharField(max_length=100)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    currency = models.CharField(max_length=3, choices=Currency.choices)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    payment_method = models.CharField(max_length=10, choices=PaymentMethod.choices)
    po_number = models.CharField(max_length=60, blank=True)
    snapshot = models.JSONField(default=dict, help_text="Frozen pricing and items at checkout")
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    placed_at = models.DateTimeField()
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"], name="order_idempotency_key_unique"
            )
        ]


class Invoice(models.Model):
    class State(models.TextChoices):
        UNPAID = "unpaid", _("Unpaid")
        PAID = "paid", _("Paid")
        # An unpaid invoice cancelled by a credit note (an order that failed and was reversed):
        # nothing is owed and nothing was paid.
        CREDITED = "credited", _("Cancelled by credit note")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="invoices")
    number = models.CharField(max_length=30, unique=True)
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="invoices"
    )
    currency = models.CharField(max_length=3, choices=Currency.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.UNPAID)
    issued_at = models.DateTimeField()
    due_date = models.DateField()
    paid_at = models.DateTimeField(null=True, blank=True)
    # What is still owed once the credit balance and payments are taken off (0 unless unpaid).
    amount_due = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    # Payment reminders sent for an unpaid invoice, and when the last one went out.
    reminders_sent = models.PositiveIntegerField(default=0)
    reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at", "-pk"]
        indexes = [models.Index(fields=["tenant", "state"])]

    @property
    def total(self):
        return sum((line.amount for line in self.lines.all()), Decimal("0.00"))


class InvoiceSequence(models.Model):
    """The last number issued in one invoice series (one per provider). Incremented under its
    row lock in the transaction that issues the invoice, so a rolled-back invoice gives its
    number back and the series has no gaps."""

    name = models.CharField(max_length=20, primary_key=True)
    last = models.PositiveBigIntegerField(default=0)


class LineKind(models.TextChoices):
    PURCHASE = "purchase", _("Purchase")
    RENEWAL = "renewal", _("Renewal")
    ADDED = "added", _("Licenses added")
    CREDIT = "credit", _("Credit for unused time")
    REVERSAL = "reversal", _("Reversal")


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    description = StoredTextField()
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=LineKind.choices, default=LineKind.PURCHASE)
    quantity = models.IntegerField(default=1)
    # The price per license per month this line charged or credited, and the service period
    # it covers ([period_start, period_end)); empty on reversals, which follow other lines.
    unit_price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    # Negative for credits (prorated refunds of unused time).
    amount = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["pk"]
        constraints = [
            # One charge per subscription per term, whatever runs the renewal and how often.
            models.UniqueConstraint(
                fields=["subscription", "period_start"],
                condition=Q(kind="renewal"),
                name="invoiceline_one_renewal_per_term",
            )
        ]


class Payment(models.Model):
    class Result(models.TextChoices):
        SUCCEEDED = "succeeded", _("Succeeded")
        DECLINED = "declined", _("Declined")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="payments")
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.SET_NULL, related_name="payments"
    )
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, choices=Currency.choices)
    method = models.CharField(max_length=10, choices=PaymentMethod.choices)
    result = models.CharField(max_length=10, choices=Result.choices)
    at = models.DateTimeField()


class CreditEntry(models.Model):
    """The tenant's credit balance, as a ledger: the balance is the sum of the entries. Credits
    beyond what an invoice charges go in; later invoices take from it first."""

    class Kind(models.TextChoices):
        CREDIT = "credit", _("Credit to your account")
        APPLIED = "applied", _("Used to pay an invoice")
        REVERSED = "reversed", _("Reversed with an order")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="credit_entries")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # Positive: credit to the account; negative: credit used.
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, choices=Currency.choices)
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="credit_entries"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["tenant", "at"])]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="creditentry_not_zero")]


class CreditCheck(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        DECLINED = "declined", _("Declined")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="credit_checks")
    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="credit_check")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    requested_at = models.DateTimeField()
    deadline = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = StoredTextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "deadline"])]


class SubscriptionLicenseTally(models.Model):
    """How many licenses of a subscription are assigned. Billing owns the number (quantity
    rules read it); database triggers on the licensing app's assignments keep it (licensing
    migration 0003), so every writer (services, the upgrade run, bulk loads) keeps it right and
    pages read it in O(1) instead of counting up to 100,000 rows on every load. Read it under
    the subscription's row lock when enforcing a rule: license writers take that lock too."""

    subscription = models.OneToOneField(
        Subscription, primary_key=True, on_delete=models.CASCADE, related_name="license_tally"
    )
    assigned = models.IntegerField(default=0)

    class Meta:
        # The table the licensing app created; the model moved here without moving data.
        db_table = "licensing_subscriptionlicensetally"
