"""The database as a first `./bin/run` leaves it (flushed, so every id starts from 1 again, and
the demo seeded), plus the one purchase README.md and docs/CLI.md ask for by hand: Office 365 E5,
300 licenses, monthly, by card. The examples of both documents run on it."""

from django.core.management import call_command

from billing.models import PaymentMethod
from billing.orders import PurchaseCart, purchase_place, purchase_quote
from portal.models import Membership, Tenant
from tests.upgrades.conftest import catalog_ensure
from upgrades.demo import demo_seed


def fresh_demo_seed(*, idempotency_key: str):
    """Contoso's admin membership and the order of the E5 bought by hand."""
    call_command("flush", interactive=False, verbosity=0)  # every id sequence from 1 again
    catalog_ensure()
    demo_seed(password="demo-password")
    contoso = Tenant.objects.get(slug="contoso")
    admin = Membership.objects.select_related("user").get(
        tenant=contoso, user__username="admin@contoso.example"
    )
    cart = PurchaseCart(product_code="O365_E5", quantity=300, billing_frequency="monthly")
    order = purchase_place(
        tenant=contoso,
        actor=admin.user,
        idempotency_key=idempotency_key,
        snapshot=purchase_quote(tenant=contoso, cart=cart),
        payment_method=PaymentMethod.CARD,
    )
    return admin, order
