import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from billing.models import BillingProfile, Product, Status, Subscription
from licensing.models import DirectoryUser, LicenseAssignment
from portal.models import Membership, Role, Tenant


def product(code: str) -> Product:
    return Product.objects.get(code=code)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"admin{n}@example.test")
    password = factory.django.Password("pw")


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Tenant {n}")
    slug = factory.Sequence(lambda n: f"tenant-{n}")
    currency = "USD"
    address_line = "1 Test Street"
    city = "Testville"
    postal_code = "12345"


class BillingProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BillingProfile

    tenant = factory.SubFactory(TenantFactory)
    contact_name = "Accounts payable"
    contact_email = "ap@example.test"
    address_line = "1 Test Street"
    city = "Testville"
    postal_code = "12345"
    country = "US"
    card_brand = "Visa"
    card_last4 = "4242"
    card_token = "tok_visa"
    invoice_eligible = True


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    tenant = factory.SubFactory(TenantFactory)
    role = Role.GLOBAL_ADMIN


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription

    tenant = factory.SubFactory(TenantFactory)
    product = factory.LazyFunction(lambda: product("O365_E4"))
    is_addon = factory.LazyAttribute(lambda o: o.product.kind == "addon")
    quantity = 10
    billing_frequency = "monthly"
    channel = "direct_card"
    status = Status.ACTIVE
    status_since = factory.LazyFunction(timezone.now)
    paid_through = factory.LazyFunction(lambda: timezone.now().date() + dt.timedelta(days=20))
    created_at = factory.LazyFunction(timezone.now)


class DirectoryUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DirectoryUser

    tenant = factory.SubFactory(TenantFactory)
    display_name = factory.Sequence(lambda n: f"Person {n:05d}")
    upn = factory.Sequence(lambda n: f"person{n}@example.test")


class LicenseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LicenseAssignment

    subscription = factory.SubFactory(SubscriptionFactory)
    tenant = factory.LazyAttribute(lambda o: o.subscription.tenant)
    user = factory.SubFactory(DirectoryUserFactory, tenant=factory.SelfAttribute("..tenant"))
    assigned_at = factory.LazyFunction(timezone.now)


def users_with_licenses(subscription: Subscription, count: int) -> list[DirectoryUser]:
    """Bulk-create `count` directory users each holding one license of `subscription`."""
    tenant = subscription.tenant
    start = DirectoryUser.objects.filter(tenant=tenant).count()
    users = DirectoryUser.objects.bulk_create(
        [
            DirectoryUser(
                tenant=tenant, display_name=f"User {i:06d}", upn=f"u{i}@{tenant.slug}.test"
            )
            for i in range(start, start + count)
        ],
        batch_size=5000,
    )
    now = timezone.now()
    LicenseAssignment.objects.bulk_create(
        [
            LicenseAssignment(tenant=tenant, user=u, subscription=subscription, assigned_at=now)
            for u in users
        ],
        batch_size=5000,
    )
    return users
