"""Demo data: one tenant per path the portal must show. Idempotent: a tenant that exists is
left as it is, so running the seed twice changes nothing."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction

from billing.models import (
    BillingFrequency,
    BillingProfile,
    Channel,
    Invoice,
    Offer,
    Product,
    Status,
)
from billing.payments import invoice_create
from billing.pricing import Line
from billing.services import subscription_create
from licensing.models import DirectoryUser, LicenseAssignment
from portal import clock
from portal.models import Membership, Role, Tenant
from portal.texts import text

FIRST = [
    "Ada",
    "Bo",
    "Chen",
    "Dana",
    "Eva",
    "Femi",
    "Gus",
    "Hana",
    "Ivo",
    "Jun",
    "Kai",
    "Lena",
    "Mats",
    "Nora",
    "Omar",
    "Pia",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "Ugo",
    "Vera",
    "Wei",
    "Xena",
    "Yara",
    "Zeno",
]
LAST = [
    "Andersson",
    "Bianchi",
    "de Vries",
    "Eriksson",
    "Fontana",
    "Jansen",
    "Li",
    "Lindqvist",
    "Moretti",
    "Nilsson",
    "Rossi",
    "Smit",
    "Wang",
    "Zhang",
    "Bakker",
    "Visser",
]


@dataclass
class DemoTenant:
    slug: str
    name: str
    currency: str
    city: str
    country: str
    language: str
    users: int
    story: str
    plans: list = field(default_factory=list)  # dicts: product, quantity, assigned, options
    addons: list = field(default_factory=list)  # (product code, quantity, assigned users)
    invoice_eligible: bool = False
    card_token: str = "tok_visa"
    unpaid_invoice: Decimal | None = None


DEMO_TENANTS = [
    DemoTenant(
        "contoso",
        "Contoso Ltd",
        "USD",
        "Seattle",
        "US",
        "en",
        300,
        "E4 bought directly by card, with add-ons: eligible for the Upgrade tab",
        plans=[{"product": "O365_E4", "quantity": 320, "assigned": 300}],
        addons=[("EXTRA_STORAGE", 250, 0), ("PHONE_SYSTEM", 150, 150), ("AUDIO_CONF", 100, 100)],
        invoice_eligible=True,
    ),
    DemoTenant(
        "fabrikam",
        "Fabrikam Inc",
        "USD",
        "Denver",
        "US",
        "en",
        60,
        "E4 bought through a partner: the Upgrade tab does not apply",
        plans=[{"product": "O365_E4", "quantity": 60, "assigned": 60, "channel": Channel.PARTNER}],
    ),
    DemoTenant(
        "northwind",
        "Northwind Traders",
        "EUR",
        "Amsterdam",
        "NL",
        "nl",
        1200,
        "E4 paid by invoice, large enough to need a credit check",
        plans=[
            {
                "product": "O365_E4",
                "quantity": 1500,
                "assigned": 1200,
                "channel": Channel.DIRECT_INVOICE,
                "frequency": BillingFrequency.YEARLY,
            }
        ],
        invoice_eligible=True,
    ),
    DemoTenant(
        "tailspin",
        "Tailspin Toys",
        "SEK",
        "Stockholm",
        "SE",
        "sv",
        45,
        "More users than licenses: a licensing conflict",
        plans=[{"product": "O365_E4", "quantity": 40, "assigned": 45}],
    ),
    DemoTenant(
        "woodgrove",
        "Woodgrove Bank",
        "EUR",
        "Milan",
        "IT",
        "it",
        80,
        "Two E4 subscriptions: consolidate first",
        plans=[
            {"product": "O365_E4", "quantity": 50, "assigned": 50},
            {"product": "O365_E4", "quantity": 30, "assigned": 30, "offset": 50},
        ],
    ),
    DemoTenant(
        "adatum",
        "Adatum Corporation",
        "USD",
        "Austin",
        "US",
        "en",
        40,
        "An unpaid invoice blocks the upgrade until it is paid",
        plans=[{"product": "O365_E4", "quantity": 40, "assigned": 40}],
        unpaid_invoice=Decimal("880.00"),
    ),
    DemoTenant(
        "litware",
        "Litware Inc",
        "CNY",
        "Shanghai",
        "CN",
        "zh-hans",
        50,
        "Prepaid E4: manual route only",
        plans=[
            {
                "product": "O365_E4",
                "quantity": 50,
                "assigned": 50,
                "prepaid": True,
                "frequency": BillingFrequency.YEARLY,
            }
        ],
    ),
    DemoTenant(
        "trey",
        "Trey Research",
        "USD",
        "Boston",
        "US",
        "en",
        25,
        "A trial subscription cannot be upgraded",
        plans=[{"product": "O365_E3", "quantity": 25, "assigned": 25, "trial": True}],
    ),
    DemoTenant(
        "fourthcoffee",
        "Fourth Coffee",
        "USD",
        "Portland",
        "US",
        "en",
        25,
        "Business Premium paid monthly by card: renews each simulated month (see Bills and "
        "payments)",
        plans=[{"product": "M365_BP", "quantity": 25, "assigned": 25, "paid_days": 1}],
    ),
    DemoTenant(
        "proseware",
        "Proseware Inc",
        "EUR",
        "Rotterdam",
        "NL",
        "nl",
        20,
        "The card on file declines at renewal: an unpaid invoice, reminders, then Expired",
        plans=[{"product": "M365_BS", "quantity": 20, "assigned": 20, "paid_days": 1}],
        card_token="tok_decline",  # noqa: S106 (the simulated card that declines)
    ),
    DemoTenant(
        "cityhall",
        "City of Lakeside",
        "USD",
        "Lakeside",
        "US",
        "en",
        30,
        "Government offer: manual route only",
        plans=[{"product": "O365_E4", "quantity": 30, "assigned": 30, "offer": Offer.GOVERNMENT}],
    ),
]

# Each demo tenant's time zone, where its city is: maintenance windows are chosen and shown in
# it (Tenant.time_zone).
TIME_ZONES = {
    "contoso": "America/Los_Angeles",
    "fabrikam": "America/Denver",
    "northwind": "Europe/Amsterdam",
    "tailspin": "Europe/Stockholm",
    "woodgrove": "Europe/Rome",
    "adatum": "America/Chicago",
    "litware": "Asia/Shanghai",
    "trey": "America/New_York",
    "fourthcoffee": "America/Los_Angeles",
    "proseware": "Europe/Amsterdam",
    "cityhall": "America/Chicago",
}

ROLES_FOR_DEMO = [
    Role.GLOBAL_ADMIN,
    Role.BILLING_ADMIN,
    Role.LICENSE_ADMIN,
    Role.USER_ADMIN,
    Role.GLOBAL_READER,
]
ROLE_LOGIN = {
    Role.GLOBAL_ADMIN: "admin",
    Role.BILLING_ADMIN: "billing",
    Role.LICENSE_ADMIN: "licenses",
    Role.USER_ADMIN: "users",
    Role.GLOBAL_READER: "reader",
}


def demo_login(slug: str, role: str) -> str:
    return f"{ROLE_LOGIN[role]}@{slug}.example"


def _account(username: str, password_hash: str, *, staff: bool = False):
    User = get_user_model()
    user, _ = User.objects.get_or_create(
        username=username, defaults={"is_staff": staff, "password": password_hash}
    )
    return user


def _users(tenant: Tenant, count: int) -> list[DirectoryUser]:
    rows = []
    for i in range(count):
        first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
        rows.append(
            DirectoryUser(
                tenant=tenant,
                display_name=f"{first} {last} {i + 1:04d}",
                upn=f"{first.lower()}.{last.lower().replace(' ', '')}{i + 1}@{tenant.slug}.example",
                department=["Sales", "Finance", "Engineering", "Support"][i % 4],
            )
        )
    DirectoryUser.objects.bulk_create(rows, batch_size=2000)
    return list(DirectoryUser.objects.filter(tenant=tenant).order_by("pk"))


def _seed_tenant(spec: DemoTenant, password_hash: str) -> Tenant:
    tenant = Tenant.objects.create(
        slug=spec.slug,
        name=spec.name,
        currency=spec.currency,
        city=spec.city,
        country=spec.country,
        language=spec.language,
        time_zone=TIME_ZONES.get(spec.slug, "UTC"),
        address_line="1 Main Street",
        postal_code="10001",
    )
    BillingProfile.objects.create(
        tenant=tenant,
        contact_name=f"Accounts payable, {spec.name}",
        contact_email=f"ap@{spec.slug}.example",
        address_line="1 Main Street",
        city=spec.city,
        postal_code="10001",
        country=spec.country,
        card_brand="Visa",
        card_last4="4242",
        card_token=spec.card_token,
        invoice_eligible=spec.invoice_eligible,
    )
    for role in ROLES_FOR_DEMO:
        Membership.objects.create(
            user=_account(demo_login(spec.slug, role), password_hash), tenant=tenant, role=role
        )
    people = _users(tenant, spec.users)
    now = clock.now()
    base = None
    for plan in spec.plans:
        subscription = subscription_create(
            tenant=tenant,
            product=Product.objects.get(code=plan["product"]),
            quantity=plan["quantity"],
            billing_frequency=plan.get("frequency", BillingFrequency.MONTHLY),
            channel=plan.get("channel", Channel.DIRECT_CARD),
            status=Status.ACTIVE,
            is_trial=plan.get("trial", False),
            is_prepaid=plan.get("prepaid", False),
            offer=plan.get("offer", Offer.COMMERCIAL),
            recurring_billing=plan["product"] != "O365_E4",
            # A first renewal soon after the demo starts (bin/run runs a day every 2 minutes).
            paid_through=now.date() + dt.timedelta(days=plan["paid_days"])
            if "paid_days" in plan
            else None,
        )
        offset = plan.get("offset", 0)
        LicenseAssignment.objects.bulk_create(
            [
                LicenseAssignment(tenant=tenant, user=u, subscription=subscription, assigned_at=now)
                for u in people[offset : offset + plan["assigned"]]
            ],
            batch_size=2000,
        )
        base = base or subscription
    for code, quantity, assigned in spec.addons:
        addon = subscription_create(
            tenant=tenant,
            product=Product.objects.get(code=code),
            quantity=quantity,
            billing_frequency=base.billing_frequency,
            channel=base.channel,
            parent=base,
            status=Status.ACTIVE,
        )
        LicenseAssignment.objects.bulk_create(
            [
                LicenseAssignment(tenant=tenant, user=u, subscription=addon, assigned_at=now)
                for u in people[:assigned]
            ]
        )
    if spec.unpaid_invoice:
        invoice = invoice_create(
            tenant=tenant,
            lines=[
                Line(
                    description=text("upgrades.line.plan_monthly", plan=base.product.name),
                    subscription_id=base.pk,
                    quantity=base.quantity,
                    amount=Decimal(spec.unpaid_invoice),
                )
            ],
        )
        Invoice.objects.filter(pk=invoice.pk).update(
            issued_at=now - dt.timedelta(days=45),
            due_date=(now - dt.timedelta(days=15)).date(),
            amount_due=Decimal(spec.unpaid_invoice),
        )
    return tenant


def demo_seed(*, password: str) -> list[tuple[str, str]]:
    """Create what is missing of the demo data; returns (login, what it shows) pairs."""
    # One hash for every demo account: hashing 46 times would take most of a minute.
    password_hash = make_password(password)
    clock.clock_anchor()  # the demo's fast clock: start it, or resume it where it stopped
    sign_ins = []
    for spec in DEMO_TENANTS:
        with transaction.atomic():
            if not Tenant.objects.filter(slug=spec.slug).exists():
                _seed_tenant(spec, password_hash)
        for role in ROLES_FOR_DEMO:
            sign_ins.append((demo_login(spec.slug, role), f"{spec.name}: {Role(role).label}"))
    _account("support@provider.example", password_hash, staff=True)
    sign_ins.append(("support@provider.example", "Support engineer (every tenant)"))
    return sign_ins


def demo_stories() -> list[tuple[str, str]]:
    return [(spec.name, spec.story) for spec in DEMO_TENANTS]
