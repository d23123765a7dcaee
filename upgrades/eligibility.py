"""Why the Upgrade tab may show no plans: a pure function from a frozen snapshot of facts to
reasons. No database access here; upgrades.selectors builds the snapshot with a fixed number
of queries, so every rule can be tested with a hand-made snapshot."""

from dataclasses import dataclass, field
from enum import StrEnum

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class ReasonCode(StrEnum):
    # Why the subscription has no upgrade at all (the design's thirteen rules).
    PARTNER_CHANNEL = "partner_channel"
    NOT_ACTIVE = "not_active"
    TRIAL = "trial"
    PREPAID = "prepaid"
    GOVERNMENT_OFFER = "government_offer"
    LICENSING_CONFLICT = "licensing_conflict"
    NOT_READY = "not_ready"
    UPGRADE_IN_PROGRESS = "upgrade_in_progress"
    DUPLICATE_SUBSCRIPTIONS = "duplicate_subscriptions"
    UNPAID_INVOICE = "unpaid_invoice"
    HIGH_VOLUME = "high_volume"
    NO_UPGRADE_PATH = "no_upgrade_path"
    READ_ONLY_ROLE = "read_only_role"
    # The admin may buy, the API token's scopes may not.
    READ_ONLY_TOKEN = "read_only_token"  # noqa: S105 (a reason code, not a secret)
    # Why one target is not offered.
    SEAT_CAP = "seat_cap"
    ADDON_NOT_CARRIED = "addon_not_carried"


class Remedy(StrEnum):
    """An action the page can offer beside a reason (the view turns it into a link)."""

    PAY_NOW = "pay_now"
    LICENSES = "licenses"
    PRODUCTS = "products"


@dataclass(frozen=True)
class Reason:
    code: ReasonCode
    message: Promise | str
    remedy: Promise | str
    temporary: bool = False
    action: Remedy | None = None


@dataclass(frozen=True)
class AddonFacts:
    subscription_id: int
    code: str
    name: str


@dataclass(frozen=True)
class TargetFacts:
    code: str
    name: str
    seat_cap: int | None
    services: frozenset[str]
    includes: frozenset[str]
    accepts: frozenset[str]


@dataclass(frozen=True)
class EligibilitySnapshot:
    product_code: str
    product_name: str
    is_addon: bool
    status: str
    channel: str
    is_trial: bool
    is_prepaid: bool
    offer: str
    quantity: int
    assigned: int
    set_up: bool  # the subscription and its add-ons have finished provisioning
    open_incident: bool
    tenant_run_state: str | None  # state of the tenant's active upgrade run, if any
    same_product_count: int  # live subscriptions of this product on the tenant, this included
    overdue_invoices: int
    queue_depth: int  # active upgrade runs service-wide
    queue_threshold: int
    can_purchase: bool
    source_services: frozenset[str]
    addons: tuple[AddonFacts, ...] = ()
    targets: tuple[TargetFacts, ...] = ()
    service_names: dict = field(default_factory=dict, hash=False, compare=False)
    # can_purchase is false because of an API token's scopes, not the admin's role.
    purchase_limited_by_token: bool = False


@dataclass(frozen=True)
class TargetOption:
    code: str
    name: str
    available: bool
    reasons: tuple[Reason, ...]
    moved_addons: tuple[AddonFacts, ...]
    removed_addons: tuple[AddonFacts, ...]
    lost_services: tuple[str, ...]  # names of source services the target does not have


@dataclass(frozen=True)
class Eligibility:
    reasons: tuple[Reason, ...]
    targets: tuple[TargetOption, ...]

    @property
    def eligible(self) -> bool:
        return not self.reasons and any(t.available for t in self.targets)

    @property
    def available_targets(self) -> tuple[TargetOption, ...]:
        return tuple(t for t in self.targets if t.available) if not self.reasons else ()

    @property
    def codes(self) -> set[str]:
        return {r.code for r in self.reasons}

    def target(self, code: str) -> TargetOption | None:
        return next((t for t in self.targets if t.code == code), None)


ACTIVE = "active"
PARTNER_CHANNELS = frozenset({"partner", "volume"})
PUBLIC_OFFERS = frozenset({"government", "nonprofit"})
CREDIT_CHECK_STATE = "awaiting_credit_check"


def _subscription_reasons(s: EligibilitySnapshot) -> list[Reason]:
    reasons = []
    if s.channel in PARTNER_CHANNELS:
        reasons.append(
            Reason(
                ReasonCode.PARTNER_CHANNEL,
                _("This subscription was bought through a partner or volume licensing."),
                _("Contact your partner or account representative to upgrade it."),
            )
        )
    if s.status != ACTIVE:
        reasons.append(
            Reason(
                ReasonCode.NOT_ACTIVE,
                _("Only an active subscription can be upgraded."),
                _("Reactivate the subscription, or wait until it has finished provisioning."),
                action=Remedy.PRODUCTS,
            )
        )
    if s.is_trial:
        reasons.append(
            Reason(
                ReasonCode.TRIAL,
                _("Trial subscriptions cannot be upgraded."),
                _("Buy the plan you want instead, then move your users to it."),
                action=Remedy.PRODUCTS,
            )
        )
    if s.is_prepaid:
        reasons.append(
            Reason(
                ReasonCode.PREPAID,
                _("Prepaid subscriptions cannot be upgraded here."),
                _(
                    "Buy the new plan, move your users, then cancel this subscription. Unused "
                    "prepaid time is not credited."
                ),
                action=Remedy.PRODUCTS,
            )
        )
    if s.offer in PUBLIC_OFFERS:
        reasons.append(
            Reason(
                ReasonCode.GOVERNMENT_OFFER,
                _("Government and non-profit offers cannot be upgraded here."),
                _("Buy the new plan, move your users, then cancel this subscription."),
                action=Remedy.PRODUCTS,
            )
        )
    if s.assigned > s.quantity:
        reasons.append(
            Reason(
                ReasonCode.LICENSING_CONFLICT,
                _("More users are assigned (%(assigned)s) than licenses were bought (%(qty)s).")
                % {"assigned": s.assigned, "qty": s.quantity},
                _("Unassign licenses until no more users hold one than were bought."),
                action=Remedy.LICENSES,
            )
        )
    if not s.set_up or s.open_incident:
        reasons.append(
            Reason(
                ReasonCode.NOT_READY,
                _("The subscription is not fully set up yet, or a service incident is open.")
                if s.open_incident and not s.set_up
                else _("A service-health incident is open.")
                if s.open_incident
                else _("The subscription is not fully set up yet."),
                _("This is temporary: try again in a few hours."),
                temporary=True,
            )
        )
    if s.tenant_run_state is not None:
        reasons.append(
            Reason(
                ReasonCode.UPGRADE_IN_PROGRESS,
                _("Another upgrade on this organisation is waiting for a credit check.")
                if s.tenant_run_state == CREDIT_CHECK_STATE
                else _("Another upgrade on this organisation is running."),
                _("This is temporary: try again when it has finished."),
                temporary=True,
            )
        )
    if s.same_product_count > 1:
        reasons.append(
            Reason(
                ReasonCode.DUPLICATE_SUBSCRIPTIONS,
                _("You have %(count)s subscriptions of %(product)s.")
                % {"count": s.same_product_count, "product": s.product_name},
                _("Move all users onto one of them, then cancel the others."),
                action=Remedy.PRODUCTS,
            )
        )
    if s.overdue_invoices:
        reasons.append(
            Reason(
                ReasonCode.UNPAID_INVOICE,
                _("An invoice has an unpaid balance past its due date."),
                _("Pay the balance, then try again."),
                action=Remedy.PAY_NOW,
            )
        )
    if s.queue_depth > s.queue_threshold:
        reasons.append(
            Reason(
                ReasonCode.HIGH_VOLUME,
                _("The service is upgrading a high volume of plans right now."),
                _("This is temporary: try again in about an hour."),
                temporary=True,
            )
        )
    if s.is_addon or not s.targets:
        reasons.append(
            Reason(
                ReasonCode.NO_UPGRADE_PATH,
                _("There is no upgrade from %(product)s.") % {"product": s.product_name},
                _("Buy a different plan if you need more services."),
                action=Remedy.PRODUCTS,
            )
        )
    if not s.can_purchase and s.purchase_limited_by_token:
        reasons.append(
            Reason(
                ReasonCode.READ_ONLY_TOKEN,
                _("This API token's scopes let it see upgrades but not buy them."),
                _("Use a token with the billing scope to upgrade."),
            )
        )
    elif not s.can_purchase:
        reasons.append(
            Reason(
                ReasonCode.READ_ONLY_ROLE,
                _("Your admin role can see upgrades but not buy them."),
                _("Ask a Global admin or Billing admin to upgrade."),
            )
        )
    return reasons


def _target_option(s: EligibilitySnapshot, t: TargetFacts) -> TargetOption:
    reasons = []
    seats = max(s.quantity, s.assigned)
    if t.seat_cap is not None and seats > t.seat_cap:
        reasons.append(
            Reason(
                ReasonCode.SEAT_CAP,
                _("%(target)s is limited to %(cap)s licenses; this subscription has %(seats)s.")
                % {"target": t.name, "cap": t.seat_cap, "seats": seats},
                _("Choose a plan without a seat limit."),
            )
        )
    moved, removed = [], []
    for addon in s.addons:
        if addon.code in t.includes:
            removed.append(addon)
        elif addon.code in t.accepts:
            moved.append(addon)
        else:
            reasons.append(
                Reason(
                    ReasonCode.ADDON_NOT_CARRIED,
                    _("%(target)s can neither include nor carry the add-on %(addon)s.")
                    % {"target": t.name, "addon": addon.name},
                    _("Cancel the add-on first, or choose another plan."),
                    action=Remedy.PRODUCTS,
                )
            )
    lost = tuple(s.service_names.get(code, code) for code in sorted(s.source_services - t.services))
    return TargetOption(
        code=t.code,
        name=t.name,
        available=not reasons,
        reasons=tuple(reasons),
        moved_addons=tuple(moved),
        removed_addons=tuple(removed),
        lost_services=lost,
    )


def eligibility_evaluate(snapshot: EligibilitySnapshot) -> Eligibility:
    """Every reason that applies (not only the first), and each target with its own."""
    return Eligibility(
        reasons=tuple(_subscription_reasons(snapshot)),
        targets=tuple(_target_option(snapshot, t) for t in snapshot.targets),
    )
