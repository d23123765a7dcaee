"""Bulk license work from a CSV file of user principal names."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from licensing.models import LicenseAssignment
from portal.models import AuditEvent

from ..factories import (
    DirectoryUserFactory,
    LicenseFactory,
    SubscriptionFactory,
    TenantFactory,
    product,
    users_with_licenses,
)

pytestmark = pytest.mark.django_db


def _holders(subscription) -> set[int]:
    return set(
        LicenseAssignment.objects.filter(subscription=subscription).values_list(
            "user_id", flat=True
        )
    )


def _csv(tmp_path, rows, name="users.csv"):
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


def _run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def e4(tenant):
    return SubscriptionFactory(tenant=tenant, product=product("O365_E4"), quantity=3000)


@pytest.fixture
def e5(tenant):
    return SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=3000)


def test_replace_moves_every_user_of_the_file_and_reports_progress(tmp_path, tenant, e4, e5):
    users = users_with_licenses(e4, 2500)
    path = _csv(
        tmp_path, ["UserPrincipalName,Department"] + [f"{u.upn},Sales" for u in users[:2400]]
    )

    out, err = _run(
        "licenses_replace",
        "--tenant",
        tenant.slug,
        "--source",
        e4.pk,
        "--target",
        e5.pk,
        "--csv",
        path,
    )

    assert _holders(e5) == {u.pk for u in users[:2400]}
    assert _holders(e4) == {u.pk for u in users[2400:]}
    assert out.splitlines()[-1] == "Moved 2,400 users, 0 already moved, 0 refused."
    # Not a terminal: one line per batch of the lookup, then the change, on stdout.
    assert out.splitlines()[:4] == [
        "Finding users: 2000/2400",
        "Finding users: 2400/2400",
        "Applying: 0/2400",
        "Applying: 2400/2400",
    ]
    assert err == ""
    assert AuditEvent.objects.filter(action="license.replace").count() == 1


def test_a_dry_run_reports_what_would_change_and_changes_nothing(tmp_path, tenant, e5):
    people = [DirectoryUserFactory(tenant=tenant) for _ in range(25)]
    path = _csv(tmp_path, [p.upn for p in people])

    out, _err = _run(
        "licenses_assign",
        "--tenant",
        tenant.slug,
        "--subscription",
        e5.pk,
        "--csv",
        path,
        "--dry-run",
    )

    assert "Dry run, nothing changed" in out
    assert f"Would assign Microsoft 365 E5 (subscription {e5.pk}) to 25 users" in out
    assert people[0].upn in out and "and 15 more" in out
    assert "2,975 of 3,000 licenses free" in out
    assert out.splitlines()[-1] == "Would assign 25 licenses, 0 already held, 0 refused."
    assert _holders(e5) == set()
    assert not AuditEvent.objects.filter(action="license.assign").exists()


def test_a_dry_run_reports_a_refusal_as_the_real_run_would(tmp_path, tenant):
    small = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=2)
    path = _csv(tmp_path, [DirectoryUserFactory(tenant=tenant).upn for _ in range(3)])

    with pytest.raises(CommandError, match="Refused, nothing changed: .*free"):
        _run(
            "licenses_assign",
            "--tenant",
            tenant.slug,
            "--subscription",
            small.pk,
            "--csv",
            path,
            "--dry-run",
        )


def test_assign_gives_every_user_a_license(tmp_path, tenant, e5):
    people = [DirectoryUserFactory(tenant=tenant) for _ in range(30)]

    _run(
        "licenses_assign",
        "--tenant",
        tenant.slug,
        "--subscription",
        e5.pk,
        "--csv",
        _csv(tmp_path, [p.upn for p in people]),
        "--no-progress",
    )

    assert _holders(e5) == {p.pk for p in people}


def test_unassign_takes_the_licenses_away(tmp_path, tenant, e4):
    users = users_with_licenses(e4, 40)

    _run(
        "licenses_unassign",
        "--tenant",
        tenant.slug,
        "--subscription",
        e4.pk,
        "--csv",
        _csv(tmp_path, [u.upn for u in users[:35]]),
    )

    assert _holders(e4) == {u.pk for u in users[35:]}


def test_a_user_of_another_tenant_refuses_the_whole_file_and_names_them(tmp_path, tenant, e4, e5):
    users = users_with_licenses(e4, 10)
    stranger = LicenseFactory(subscription=SubscriptionFactory(tenant=TenantFactory())).user
    path = _csv(tmp_path, [u.upn for u in users] + [stranger.upn, "nobody@nowhere.test"])

    with pytest.raises(CommandError) as error:
        _run(
            "licenses_replace",
            "--tenant",
            tenant.slug,
            "--source",
            e4.pk,
            "--target",
            e5.pk,
            "--csv",
            path,
        )

    assert "nothing changed" in str(error.value)
    assert stranger.upn in str(error.value) and "nobody@nowhere.test" in str(error.value)
    assert len(_holders(e4)) == 10
    assert _holders(e5) == set()


def test_a_user_named_twice_refuses_the_whole_file(tmp_path, tenant, e4, e5):
    users = users_with_licenses(e4, 5)
    path = _csv(tmp_path, [u.upn for u in users] + [users[0].upn])

    with pytest.raises(CommandError, match="more than once"):
        _run(
            "licenses_replace",
            "--tenant",
            tenant.slug,
            "--source",
            e4.pk,
            "--target",
            e5.pk,
            "--csv",
            path,
        )

    assert _holders(e5) == set()


def test_an_unknown_subscription_is_refused(tmp_path, tenant, e4):
    users = users_with_licenses(e4, 2)
    theirs = SubscriptionFactory(tenant=TenantFactory())

    with pytest.raises(CommandError, match=f"no subscription {theirs.pk}"):
        _run(
            "licenses_replace",
            "--tenant",
            tenant.slug,
            "--source",
            e4.pk,
            "--target",
            theirs.pk,
            "--csv",
            _csv(tmp_path, [u.upn for u in users]),
        )

    assert len(_holders(e4)) == 2


def test_an_unknown_tenant_or_an_empty_file_is_refused(tmp_path, tenant, e4):
    with pytest.raises(CommandError, match="No tenant"):
        _run(
            "licenses_assign",
            "--tenant",
            "nope",
            "--subscription",
            e4.pk,
            "--csv",
            _csv(tmp_path, ["a@b.test"]),
        )
    with pytest.raises(CommandError, match="names no users"):
        _run(
            "licenses_assign",
            "--tenant",
            tenant.slug,
            "--subscription",
            e4.pk,
            "--csv",
            _csv(tmp_path, ["upn", ""], name="empty.csv"),
        )
