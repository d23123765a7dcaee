"""What the license commands print: progress on stdout (redrawn in place only on a terminal),
a summary line with the counts, --json, and the exit statuses (0 done, 1 refused, 2 usage)."""

import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command, load_command_class
from django.core.management.color import color_style

from licensing.models import LicenseAssignment
from portal.models import AuditEvent

from ..factories import DirectoryUserFactory, SubscriptionFactory, product, users_with_licenses

pytestmark = pytest.mark.django_db

ERROR_STYLE = color_style(force_color=True).ERROR("x").split("x")[0]


class Terminal(StringIO):
    def isatty(self):
        return True


def _csv(tmp_path, upns, name="users.csv"):
    path = tmp_path / name
    path.write_text("\n".join(upns) + "\n", encoding="utf-8")
    return str(path)


def _run(*args, out=None, err=None, **options):
    """(stdout, stderr, exit status) of a call, as manage.py would exit."""
    out, err = out or StringIO(), err or StringIO()
    try:
        call_command(*args, stdout=out, stderr=err, **options)
        status = 0
    except CommandError as error:
        err.write(f"Error: {error}\n")
        status = error.returncode
    return out.getvalue(), err.getvalue(), status


def _holders(subscription) -> set[int]:
    return set(
        LicenseAssignment.objects.filter(subscription=subscription).values_list(
            "user_id", flat=True
        )
    )


@pytest.fixture
def e5(tenant):
    return SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=100)


@pytest.fixture
def e4(tenant):
    return SubscriptionFactory(tenant=tenant, product=product("O365_E4"), quantity=100)


def _assign(tenant, e5, path, *more, **options):
    args = ["--tenant", tenant.slug, "--subscription", e5.pk, "--csv", path]
    return _run("licenses_assign", *args, *more, **options)


def test_one_license_is_counted_in_the_singular(tmp_path, tenant, e5):
    person = DirectoryUserFactory(tenant=tenant)

    out, err, status = _assign(tenant, e5, _csv(tmp_path, [person.upn]))

    assert status == 0 and err == ""
    assert out.splitlines()[-1] == "Assigned 1 license, 0 already held, 0 refused."


def test_users_who_already_hold_the_license_are_skipped_and_counted(tmp_path, tenant, e5):
    holders = users_with_licenses(e5, 2)
    people = [DirectoryUserFactory(tenant=tenant) for _ in range(3)]

    out, _err, status = _assign(tenant, e5, _csv(tmp_path, [p.upn for p in holders + people]))

    assert status == 0
    assert out.splitlines()[-1] == "Assigned 3 licenses, 2 already held, 0 refused."
    assert _holders(e5) == {p.pk for p in holders + people}
    assert AuditEvent.objects.get(action="license.assign").data["users"] == 3


def test_unassign_skips_the_users_who_do_not_hold_the_license(tmp_path, tenant, e4):
    holders = users_with_licenses(e4, 2)
    other = DirectoryUserFactory(tenant=tenant)
    path = _csv(tmp_path, [holders[0].upn, other.upn, holders[1].upn])

    out, _err, status = _run(
        "licenses_unassign", "--tenant", tenant.slug, "--subscription", e4.pk, "--csv", path
    )

    assert status == 0
    assert out.splitlines()[-1] == "Unassigned 2 licenses, 1 not held, 0 refused."
    assert _holders(e4) == set()


def test_replace_run_again_with_the_same_file_changes_nothing_more(tmp_path, tenant, e4, e5):
    users = users_with_licenses(e4, 3)
    path = _csv(tmp_path, [u.upn for u in users])
    args = ["licenses_replace", "--tenant", tenant.slug, "--source", e4.pk, "--target", e5.pk]

    first, _err, first_status = _run(*args, "--csv", path)
    again, _err, again_status = _run(*args, "--csv", path)

    assert (first_status, again_status) == (0, 0)
    assert first.splitlines()[-1] == "Moved 3 users, 0 already moved, 0 refused."
    assert again.splitlines()[-1] == "Moved 0 users, 3 already moved, 0 refused."
    assert _holders(e5) == {u.pk for u in users}
    assert AuditEvent.objects.filter(action="license.replace").count() == 1


def test_a_refusal_exits_1_with_the_reason_on_stderr_and_the_counts_on_stdout(tmp_path, tenant):
    small = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=2)
    held = users_with_licenses(small, 1)
    people = [DirectoryUserFactory(tenant=tenant) for _ in range(3)]

    out, err, status = _assign(tenant, small, _csv(tmp_path, [p.upn for p in held + people]))

    assert status == 1
    assert err.startswith("Error: Refused, nothing changed: Not enough free licenses")
    assert out.splitlines()[-1] == "Assigned 0 licenses, 1 already held, 3 refused."
    assert _holders(small) == {held[0].pk}


def test_json_prints_one_document_with_the_counts_and_the_users(tmp_path, tenant, e5):
    holder = users_with_licenses(e5, 1)[0]
    people = [DirectoryUserFactory(tenant=tenant) for _ in range(2)]
    path = _csv(tmp_path, [people[0].upn, holder.upn, people[1].upn])

    out, err, status = _assign(tenant, e5, path, "--json")

    assert status == 0 and err == ""
    assert json.loads(out) == {
        "operation": "assign",
        "tenant": tenant.slug,
        "subscription_id": e5.pk,
        "dry_run": False,
        "ok": True,
        "counts": {"requested": 3, "changed": 2, "skipped": 1, "refused": 0},
        "users": {"changed": [people[0].upn, people[1].upn], "skipped": [holder.upn]},
        "subscriptions": [
            {
                "id": e5.pk,
                "product": "Microsoft 365 E5",
                "product_code": "M365_E5",
                "quantity": 100,
                "assigned": 3,
                "free": 97,
            }
        ],
        "error": None,
    }


def test_json_of_a_refused_dry_run_has_the_error_and_exits_1(tmp_path, tenant):
    small = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=1)
    people = [DirectoryUserFactory(tenant=tenant) for _ in range(2)]

    path = _csv(tmp_path, [p.upn for p in people])

    out, err, status = _assign(tenant, small, path, "--json", "--dry-run")

    document = json.loads(out)
    assert status == 1 and err.startswith("Error: Refused")
    assert document["ok"] is False and document["dry_run"] is True
    assert document["counts"] == {"requested": 2, "changed": 0, "skipped": 0, "refused": 2}
    assert document["error"]["code"] == "not_enough_licenses"
    assert document["error"]["message"].startswith("Not enough free licenses of Microsoft 365 E5")


def test_json_of_unknown_users_names_them(tmp_path, tenant, e5):
    person = DirectoryUserFactory(tenant=tenant)
    path = _csv(tmp_path, [person.upn, "nobody@nowhere.test"])

    out, _err, status = _assign(tenant, e5, path, "--json")

    assert status == 1
    error = json.loads(out)["error"]
    assert error["code"] == "unknown_users"
    assert error["details"] == {"count": 1, "users": ["nobody@nowhere.test"]}


def test_an_unreadable_csv_file_is_a_usage_error(tmp_path, tenant, e5):
    missing = str(tmp_path / "missing.csv")

    out, err, status = _assign(tenant, e5, missing)
    as_json, _err, json_status = _assign(tenant, e5, missing, "--json")

    assert (status, json_status) == (2, 2)
    assert out == ""  # nothing was tried: no counts
    assert err == f"Error: Cannot read {missing}: No such file or directory\n"
    assert json.loads(as_json)["error"]["code"] == "csv_unreadable"


def test_a_row_without_a_user_is_a_usage_error_naming_the_row(tmp_path, tenant, e5):
    path = _csv(tmp_path, ["UPN,Department", "a@b.test,Sales", ",Sales"])

    _out, err, status = _assign(tenant, e5, path)

    assert status == 2
    assert f"{path}: row 3 has no user principal name." in err


def test_bad_arguments_are_a_usage_error(tenant):
    _out, err, status = _run("licenses_assign", "--tenant", tenant.slug, "--csv", "x.csv")

    assert status == 2
    assert "--subscription" in err


def test_an_unknown_subscription_is_refused_with_exit_1(tmp_path, tenant, e5):
    person = DirectoryUserFactory(tenant=tenant)

    path = _csv(tmp_path, [person.upn])

    out, err, status = _run(
        "licenses_assign",
        "--tenant",
        tenant.slug,
        "--subscription",
        999999,
        "--csv",
        path,
        "--json",
    )

    assert status == 1
    assert json.loads(out)["error"]["code"] == "not_found"
    assert "has no subscription 999999" in err


def test_off_a_terminal_progress_is_one_plain_line_per_step(tmp_path, tenant, e5):
    people = [DirectoryUserFactory(tenant=tenant) for _ in range(3)]

    out, err, _status = _assign(tenant, e5, _csv(tmp_path, [p.upn for p in people]))

    assert "\r" not in out and "\x1b[" not in out
    assert err == ""
    assert out.splitlines()[:3] == ["Finding users: 3/3", "Applying: 0/3", "Applying: 3/3"]


def test_on_a_terminal_progress_is_redrawn_in_place_in_the_normal_style(tmp_path, tenant, e5):
    people = [DirectoryUserFactory(tenant=tenant) for _ in range(3)]
    out, err = Terminal(), Terminal()

    stdout, stderr, status = _assign(
        tenant, e5, _csv(tmp_path, [p.upn for p in people]), out=out, err=err, force_color=True
    )

    assert status == 0 and stderr == ""
    assert "\rFinding users [" + "#" * 30 + "] 3/3\n" in stdout
    assert "\rApplying [" + "." * 30 + "] 0/3\rApplying [" + "#" * 30 + "] 3/3\n" in stdout
    progress = stdout.split("\n  users:")[0]
    assert "\x1b[" not in progress  # the normal style, not the ERROR one
    assert ERROR_STYLE not in stdout
    plain = re.sub(r"\x1b\[[0-9;]*m", "", stdout)
    assert plain.endswith("\nAssigned 3 licenses, 0 already held, 0 refused.\n")


def test_json_prints_no_progress_even_on_a_terminal(tmp_path, tenant, e5):
    person = DirectoryUserFactory(tenant=tenant)

    out, _err, _status = _assign(tenant, e5, _csv(tmp_path, [person.upn]), "--json", out=Terminal())

    assert "\r" not in out
    assert json.loads(out)["counts"]["changed"] == 1


def test_verbosity_0_prints_the_summary_alone(tmp_path, tenant, e5):
    person = DirectoryUserFactory(tenant=tenant)

    out, _err, _status = _assign(tenant, e5, _csv(tmp_path, [person.upn]), "--verbosity", "0")

    assert out == "Assigned 1 license, 0 already held, 0 refused.\n"


def test_no_progress_leaves_the_details_and_the_summary(tmp_path, tenant, e5):
    person = DirectoryUserFactory(tenant=tenant)

    out, _err, _status = _assign(tenant, e5, _csv(tmp_path, [person.upn]), "--no-progress")

    assert out.splitlines() == [
        f"  users: {person.upn}",
        f"  now: Microsoft 365 E5 (subscription {e5.pk}): 99 of 100 licenses free",
        "Assigned 1 license, 0 already held, 0 refused.",
    ]


@pytest.mark.parametrize(
    ("app", "name"),
    [
        ("licensing", "licenses_assign"),
        ("licensing", "licenses_unassign"),
        ("licensing", "licenses_replace"),
        ("upgrades", "upgrade_status"),
    ],
)
def test_every_command_documents_its_exit_statuses_in_its_help(app, name):
    text = load_command_class(app, name).create_parser("manage.py", name).format_help()

    assert "Exit status:\n  0  " in text and "\n  1  " in text and "\n  2  " in text
    assert "docs/CLI.md" in text
