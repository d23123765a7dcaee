"""The assigned-license tally the pages read must equal the real count after every kind of
write: bulk inserts, the services' batch re-points and deletes, cascades."""

import pytest
from django.db.models import Count

from billing.models import Subscription, SubscriptionLicenseTally
from licensing.models import DirectoryUser, LicenseAssignment
from licensing.services import license_replace, license_unassign

from ..factories import LicenseFactory, SubscriptionFactory, product, users_with_licenses

pytestmark = pytest.mark.django_db


def _assert_tally_matches(tenant):
    real = dict(
        LicenseAssignment.objects.filter(tenant=tenant)
        .values("subscription")
        .annotate(n=Count("*"))
        .values_list("subscription", "n")
    )
    for subscription in Subscription.objects.filter(tenant=tenant):
        tally = SubscriptionLicenseTally.objects.filter(subscription=subscription).first()
        assert (tally.assigned if tally else 0) == real.get(subscription.pk, 0), subscription


def test_tally_follows_every_kind_of_write(tenant):
    e4 = SubscriptionFactory(tenant=tenant, quantity=3000)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=3000)
    users = users_with_licenses(e4, 2500)
    LicenseFactory(subscription=e5)
    _assert_tally_matches(tenant)

    license_replace(
        tenant=tenant,
        actor=None,
        source_id=e4.pk,
        target_id=e5.pk,
        user_ids=[u.pk for u in users[:1500]],
        max_users=None,
    )
    _assert_tally_matches(tenant)
    license_unassign(
        tenant=tenant, actor=None, subscription_id=e5.pk, user_ids=[users[0].pk], max_users=None
    )
    DirectoryUser.objects.filter(pk__in=[u.pk for u in users[2000:2010]]).delete()
    _assert_tally_matches(tenant)
    assert SubscriptionLicenseTally.objects.get(subscription=e4).assigned == 990

    e4.delete()
    assert not SubscriptionLicenseTally.objects.filter(subscription_id=e4.pk).exists()
    _assert_tally_matches(tenant)
