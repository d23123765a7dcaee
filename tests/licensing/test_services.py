import pytest

from billing.models import Status
from licensing.models import LicenseAssignment
from licensing.services import license_assign, license_replace, license_unassign
from portal.errors import DomainError
from portal.models import AuditEvent

from ..factories import (
    DirectoryUserFactory,
    SubscriptionFactory,
    TenantFactory,
    product,
    users_with_licenses,
)

pytestmark = pytest.mark.django_db


def _people(tenant, count):
    return [DirectoryUserFactory(tenant=tenant) for _ in range(count)]


def _holding(subscription):
    return set(
        LicenseAssignment.objects.filter(subscription=subscription).values_list(
            "user_id", flat=True
        )
    )


def test_assign_gives_each_user_one_license_and_writes_one_audit_event(tenant):
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=5)
    people = _people(tenant, 3)

    changed = license_assign(
        tenant=tenant, actor=None, subscription_id=e5.pk, user_ids=[u.pk for u in people]
    )

    assert changed == 3
    assert _holding(e5) == {u.pk for u in people}
    event = AuditEvent.objects.get(tenant=tenant, action="license.assign")
    assert event.data["users"] == 3


def test_assign_beyond_free_licenses_changes_nothing(tenant):
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=2)
    people = _people(tenant, 3)

    with pytest.raises(DomainError) as error:
        license_assign(
            tenant=tenant, actor=None, subscription_id=e5.pk, user_ids=[u.pk for u in people]
        )

    assert error.value.code == "not_enough_licenses"
    assert _holding(e5) == set()


def test_twenty_one_users_are_refused_in_the_browser_but_not_in_bulk(tenant):
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=30)
    ids = [u.pk for u in _people(tenant, 21)]

    with pytest.raises(DomainError) as error:
        license_assign(tenant=tenant, actor=None, subscription_id=e5.pk, user_ids=ids)
    assert error.value.code == "too_many_users"
    assert _holding(e5) == set()

    assert (
        license_assign(
            tenant=tenant, actor=None, subscription_id=e5.pk, user_ids=ids, max_users=None
        )
        == 21
    )


def test_duplicate_user_ids_are_refused(tenant):
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"))
    user = DirectoryUserFactory(tenant=tenant)
    with pytest.raises(DomainError) as error:
        license_assign(tenant=tenant, actor=None, subscription_id=e5.pk, user_ids=[user.pk] * 2)
    assert error.value.code == "duplicate_users"


def test_another_tenants_subscription_is_not_found(tenant):
    other = SubscriptionFactory(tenant=TenantFactory(), product=product("M365_E5"))
    user = DirectoryUserFactory(tenant=tenant)
    with pytest.raises(DomainError) as error:
        license_assign(tenant=tenant, actor=None, subscription_id=other.pk, user_ids=[user.pk])
    assert error.value.code == "not_found"
    assert _holding(other) == set()


def test_another_tenants_user_is_refused_and_nothing_changes(tenant):
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"))
    mine = DirectoryUserFactory(tenant=tenant)
    stranger = DirectoryUserFactory(tenant=TenantFactory())
    with pytest.raises(DomainError) as error:
        license_assign(
            tenant=tenant, actor=None, subscription_id=e5.pk, user_ids=[mine.pk, stranger.pk]
        )
    assert error.value.code == "unknown_users"
    assert _holding(e5) == set()


@pytest.mark.parametrize("status", [Status.PROVISIONING, Status.EXPIRED, Status.DISABLED])
def test_only_active_subscriptions_take_new_users(tenant, status):
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), status=status)
    user = DirectoryUserFactory(tenant=tenant)
    with pytest.raises(DomainError) as error:
        license_assign(tenant=tenant, actor=None, subscription_id=e5.pk, user_ids=[user.pk])
    assert error.value.code == "not_active"


def test_assigning_a_user_who_already_holds_the_license_is_refused(tenant):
    e4 = SubscriptionFactory(tenant=tenant, quantity=5)
    (holder,) = users_with_licenses(e4, 1)
    with pytest.raises(DomainError) as error:
        license_assign(tenant=tenant, actor=None, subscription_id=e4.pk, user_ids=[holder.pk])
    assert error.value.code == "already_assigned"
    assert holder.display_name in error.value.message


def test_unassign_removes_only_that_subscriptions_license(tenant):
    e4 = SubscriptionFactory(tenant=tenant, quantity=5)
    phone = SubscriptionFactory(
        tenant=tenant, product=product("PHONE_SYSTEM"), parent=e4, quantity=5
    )
    people = users_with_licenses(e4, 2)
    LicenseAssignment.objects.create(
        tenant=tenant, user=people[0], subscription=phone, assigned_at=e4.created_at
    )

    license_unassign(tenant=tenant, actor=None, subscription_id=e4.pk, user_ids=[people[0].pk])

    assert _holding(e4) == {people[1].pk}
    assert _holding(phone) == {people[0].pk}


def test_unassign_of_a_user_without_the_license_changes_nothing(tenant):
    e4 = SubscriptionFactory(tenant=tenant, quantity=5)
    holder = users_with_licenses(e4, 1)[0]
    outsider = DirectoryUserFactory(tenant=tenant)
    with pytest.raises(DomainError) as error:
        license_unassign(
            tenant=tenant, actor=None, subscription_id=e4.pk, user_ids=[holder.pk, outsider.pk]
        )
    assert error.value.code == "not_assigned"
    assert _holding(e4) == {holder.pk}


def test_replace_repoints_the_same_rows_and_leaves_other_licenses_alone(tenant):
    e4 = SubscriptionFactory(tenant=tenant, quantity=10)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=10)
    atp = SubscriptionFactory(tenant=tenant, product=product("ATP"), parent=e4, quantity=10)
    people = users_with_licenses(e4, 3)
    LicenseAssignment.objects.create(
        tenant=tenant, user=people[0], subscription=atp, assigned_at=e4.created_at
    )
    rows_before = set(
        LicenseAssignment.objects.filter(subscription=e4, user__in=people[:2]).values_list(
            "pk", flat=True
        )
    )

    changed = license_replace(
        tenant=tenant,
        actor=None,
        source_id=e4.pk,
        target_id=e5.pk,
        user_ids=[people[0].pk, people[1].pk],
    )

    assert changed == 2
    assert set(LicenseAssignment.objects.filter(subscription=e5).values_list("pk", flat=True)) == (
        rows_before
    )
    assert _holding(e4) == {people[2].pk}
    assert _holding(atp) == {people[0].pk}
    assert AuditEvent.objects.get(tenant=tenant, action="license.replace").data["users"] == 2


def test_replace_onto_a_subscription_the_user_already_holds_changes_nothing(tenant):
    e4 = SubscriptionFactory(tenant=tenant, quantity=10)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=10)
    people = users_with_licenses(e4, 2)
    LicenseAssignment.objects.create(
        tenant=tenant, user=people[1], subscription=e5, assigned_at=e4.created_at
    )
    with pytest.raises(DomainError) as error:
        license_replace(
            tenant=tenant,
            actor=None,
            source_id=e4.pk,
            target_id=e5.pk,
            user_ids=[p.pk for p in people],
        )
    assert error.value.code == "already_assigned"
    assert _holding(e4) == {p.pk for p in people}


def test_replace_needs_enough_free_licenses_on_the_target(tenant):
    e4 = SubscriptionFactory(tenant=tenant, quantity=10)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=1)
    people = users_with_licenses(e4, 2)
    with pytest.raises(DomainError) as error:
        license_replace(
            tenant=tenant,
            actor=None,
            source_id=e4.pk,
            target_id=e5.pk,
            user_ids=[p.pk for p in people],
        )
    assert error.value.code == "not_enough_licenses"
    assert _holding(e5) == set()


def test_replace_onto_itself_is_refused(tenant):
    e4 = SubscriptionFactory(tenant=tenant, quantity=10)
    people = users_with_licenses(e4, 1)
    with pytest.raises(DomainError) as error:
        license_replace(
            tenant=tenant, actor=None, source_id=e4.pk, target_id=e4.pk, user_ids=[people[0].pk]
        )
    assert error.value.code == "same_subscription"


def test_bulk_replace_of_thousands_runs_in_a_few_statements(tenant, django_assert_max_num_queries):
    e4 = SubscriptionFactory(tenant=tenant, quantity=2500)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=2500)
    ids = [u.pk for u in users_with_licenses(e4, 2500)]

    # 3 batches of 1,000: users check, source check, target check, update, each per batch.
    with django_assert_max_num_queries(25):
        changed = license_replace(
            tenant=tenant,
            actor=None,
            source_id=e4.pk,
            target_id=e5.pk,
            user_ids=ids,
            max_users=None,
        )

    assert changed == 2500
    assert len(_holding(e5)) == 2500
    assert _holding(e4) == set()
