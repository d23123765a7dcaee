"""Notifications' read state is each admin's own, and only the tenant's admins keep one."""

from django.urls import reverse

from portal.models import NotificationRead, Role
from portal.services import notification_create


def _unread(client, tenant):
    page = client.get(reverse("notifications", args=[tenant.slug]))
    assert page.status_code == 200
    return page.context["unread"]


def test_one_admin_marking_all_read_leaves_them_unread_for_another(tenant, admin_for):
    notification_create(tenant=tenant, message="Renewal paid")
    notification_create(tenant=tenant, message="Upgrade complete")
    first, _ = admin_for(tenant)
    second, _ = admin_for(tenant)

    response = first.post(reverse("notifications_mark_read", args=[tenant.slug]))

    assert response.status_code == 302
    assert _unread(first, tenant) == 0
    assert _unread(second, tenant) == 2


def test_a_global_reader_marks_only_their_own_notifications_read(tenant, admin_for):
    notification_create(tenant=tenant, message="Renewal paid")
    reader, reader_user = admin_for(tenant, Role.GLOBAL_READER)
    admin, _ = admin_for(tenant)

    reader.post(reverse("notifications_mark_read", args=[tenant.slug]))

    assert list(NotificationRead.objects.values_list("user_id", flat=True)) == [reader_user.pk]
    assert _unread(admin, tenant) == 1


def test_marking_one_notification_read_leaves_the_others_unread(tenant, admin_for):
    kept = notification_create(tenant=tenant, message="Renewal paid")
    read = notification_create(tenant=tenant, message="Upgrade complete")
    client, _ = admin_for(tenant)

    client.post(reverse("notification_mark_read", args=[tenant.slug, read.pk]))

    page = client.get(reverse("notifications", args=[tenant.slug]))
    state = {n.pk: n.is_read for n in page.context["notifications"]}
    assert state == {kept.pk: False, read.pk: True}


def test_marking_twice_is_harmless(tenant, admin_for):
    notification = notification_create(tenant=tenant, message="Renewal paid")
    client, _ = admin_for(tenant)
    url = reverse("notification_mark_read", args=[tenant.slug, notification.pk])

    client.post(url)
    client.post(url)
    client.post(reverse("notifications_mark_read", args=[tenant.slug]))

    assert NotificationRead.objects.count() == 1


def test_a_support_engineer_cannot_mark_a_tenants_notifications_read(tenant, support_client):
    notification_create(tenant=tenant, message="Renewal paid")

    response = support_client.post(reverse("notifications_mark_read", args=[tenant.slug]))

    assert response.status_code == 403
    assert not NotificationRead.objects.exists()


def test_another_tenants_notification_is_not_found(tenant, admin_for):
    from tests.factories import TenantFactory

    foreign = notification_create(tenant=TenantFactory(), message="Not yours")
    client, _ = admin_for(tenant)

    response = client.post(reverse("notification_mark_read", args=[tenant.slug, foreign.pk]))

    assert response.status_code == 404
    assert not NotificationRead.objects.exists()


def test_marking_read_needs_a_post(tenant, admin_for):
    notification_create(tenant=tenant, message="Renewal paid")
    client, _ = admin_for(tenant)

    response = client.get(reverse("notifications_mark_read", args=[tenant.slug]))

    assert response.status_code == 405
    assert _unread(client, tenant) == 1


def test_the_notifications_page_reads_in_constant_queries(
    tenant, admin_for, django_assert_max_num_queries
):
    client, _ = admin_for(tenant)
    notification_create(tenant=tenant, message="First")
    client.get(reverse("notifications", args=[tenant.slug]))  # warm the session
    for index in range(30):
        notification_create(tenant=tenant, message=f"Notice {index}")

    with django_assert_max_num_queries(8):
        assert client.get(reverse("notifications", args=[tenant.slug])).status_code == 200
