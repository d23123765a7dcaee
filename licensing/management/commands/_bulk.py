"""What the three bulk license commands share: reading user principal names from a CSV file,
progress (see portal.cli), a dry run that applies the change in a transaction it then rolls back (so
it reports exactly what would change, or exactly why it would be refused), a summary line with
the counts, --json, and turning refusals into exit status 1 with the offending users listed.

All or nothing, as the API: one refusal changes nothing. Unlike the API, users who are already
where the file asks (they already hold the license; they do not hold the one to take away;
they have already moved) are skipped and counted, not refused, so the same file can be run
again, after a success or a partial edit, and does only what is left."""

import csv
import sys
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from billing.selectors import subscription_get
from licensing.bulk import directory_user_ids_for_upns
from licensing.models import LicenseAssignment
from portal.cli import EXIT_USAGE, CliCommand, CliError, exit_codes_text, plain
from portal.errors import DomainError
from portal.formatting import number_text
from portal.models import Tenant

UPN_HEADERS = {"upn", "userprincipalname", "user principal name", "user_principal_name"}
SHOWN_USERS = 10
SHOWN_ROWS = 20
HOLDERS_BATCH = 5000


class Rollback(Exception):
    """Raised inside the dry run's transaction to undo it."""


def read_upns(path: str) -> list[str]:
    """User principal names from the first column of a CSV file, or from the column headed
    UPN / UserPrincipalName when there is a header row. Blank rows are skipped; "-" reads
    standard input. A file that cannot be used is a usage error (exit status 2)."""
    try:
        if path == "-":
            rows = list(enumerate(csv.reader(sys.stdin), start=1))
        else:
            with Path(path).open(newline="", encoding="utf-8-sig") as handle:
                rows = list(enumerate(csv.reader(handle), start=1))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        reason = getattr(error, "strerror", None) or error
        raise CliError(
            _("Cannot read %(path)s: %(error)s") % {"path": path, "error": reason},
            code="csv_unreadable",
            returncode=EXIT_USAGE,
        ) from error
    rows = [(number, row) for number, row in rows if any(cell.strip() for cell in row)]
    column = 0
    if rows:
        header = [cell.strip().lower() for cell in rows[0][1]]
        named = [i for i, cell in enumerate(header) if cell in UPN_HEADERS]
        if named:
            column = named[0]
            rows = rows[1:]
    upns = [(number, row[column].strip() if column < len(row) else "") for number, row in rows]
    empty = [number for number, upn in upns if not upn]
    if empty:
        raise CliError(
            ngettext(
                "%(path)s: row %(rows)s has no user principal name.",
                "%(path)s: rows %(rows)s have no user principal name.",
                len(empty),
            )
            % {"path": path, "rows": ", ".join(str(n) for n in empty[:SHOWN_ROWS])},
            code="csv_invalid",
            details={"rows": empty[:SHOWN_ROWS], "count": len(empty)},
            returncode=EXIT_USAGE,
        )
    if not upns:
        raise CliError(
            _("%(path)s names no users.") % {"path": path},
            code="csv_empty",
            returncode=EXIT_USAGE,
        )
    return [upn for _number, upn in upns]


def listed(upns: list[str]) -> str:
    text = ", ".join(upns[:SHOWN_USERS])
    if len(upns) > SHOWN_USERS:
        text += " " + _("and %(count)d more") % {"count": len(upns) - SHOWN_USERS}
    return text


def holders_among(*, tenant, subscription_id: int, user_ids: list[int]) -> set[int]:
    """Which of the users hold a license of the subscription (read in batches, so a file of
    100,000 users is a few queries of bounded size)."""
    held: set[int] = set()
    for start in range(0, len(user_ids), HOLDERS_BATCH):
        held.update(
            LicenseAssignment.objects.filter(
                tenant=tenant,
                subscription_id=subscription_id,
                user_id__in=user_ids[start : start + HOLDERS_BATCH],
            ).values_list("user_id", flat=True)
        )
    return held


@dataclass
class Outcome:
    """What a run did (or a dry run would do), for the summary line and --json."""

    dry_run: bool
    requested: int = 0
    changed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    subscriptions: list[dict] = field(default_factory=list)
    plan: str = ""
    error: CliError | None = None

    @property
    def refused(self) -> int:
        # All or nothing: a refusal refuses every user who was not skipped.
        return self.requested - len(self.skipped) if self.error else 0


class BulkLicenseCommand(CliCommand):
    """Subclasses set `operation` and implement add_target_arguments, target_ids,
    subscription_ids, unchanged, apply, describe and the summary's words."""

    operation = ""
    # What refuses, for the --help epilog.
    refusals = ""

    def epilog(self):
        return exit_codes_text(
            done=_("done; with --dry-run, it would be done"),
            refused=_("refused, nothing changed: %(refusals)s") % {"refusals": self.refusals},
            usage=_("usage error: bad or missing arguments, or a CSV file that cannot be used"),
        )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help=_("The tenant's short name (slug)."))
        parser.add_argument(
            "--csv",
            required=True,
            dest="csv_path",
            metavar="FILE",
            help=_(
                "CSV file of user principal names (first column, or a column headed UPN or "
                "UserPrincipalName); - reads standard input."
            ),
        )
        self.add_target_arguments(parser)
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help=_("Check everything and report what would change; change nothing."),
        )
        parser.add_argument(
            "--actor",
            metavar="USERNAME",
            help=_("Username recorded as the actor in the audit log (default: none)."),
        )
        parser.add_argument(
            "--no-progress", action="store_true", help=_("Print no progress, only the result.")
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help=_(
                "Print one JSON document on stdout (counts, users, dry_run, error) and no progress."
            ),
        )

    # --- what each command says and does ---------------------------------------------------

    def add_target_arguments(self, parser):
        raise NotImplementedError

    def target_ids(self, options) -> dict:
        """The subscription ids as the API names them, for --json."""
        raise NotImplementedError

    def subscription_ids(self, options) -> list[int]:
        raise NotImplementedError

    def unchanged(self, *, tenant, user_ids: list[int], options) -> set[int]:
        """The users the change would not change (skipped and counted, not refused)."""
        raise NotImplementedError

    def apply(self, *, tenant, actor, user_ids: list[int], options) -> int:
        raise NotImplementedError

    def describe(self, *, tenant, count: int, options) -> str:
        """What the change does, to complete "Would …" in a dry run."""
        raise NotImplementedError

    def changed_words(self, count: int, *, dry_run: bool) -> str:
        raise NotImplementedError

    def skipped_words(self, count: int) -> str:
        raise NotImplementedError

    skipped_label = ""  # "already held", for the list of skipped users

    # --- the run ---------------------------------------------------------------------------

    def subscription(self, tenant, pk: int):
        try:
            return subscription_get(tenant=tenant, pk=pk)
        except Http404:
            raise CliError(
                _("Tenant %(tenant)s has no subscription %(pk)s.")
                % {"tenant": tenant.slug, "pk": pk},
                code="not_found",
            ) from None

    def free_licenses(self, subscription) -> int:
        # subscription_get counts the assigned licenses as it loads the row.
        return subscription.quantity - subscription.assigned

    def counts_of(self, subscription) -> dict:
        return {
            "id": subscription.pk,
            "product": subscription.product.name,
            "product_code": subscription.product.code,
            "quantity": subscription.quantity,
            "assigned": subscription.assigned,
            "free": self.free_licenses(subscription),
        }

    def handle(self, *args, **options):
        outcome = Outcome(dry_run=options["dry_run"])
        try:
            self.run(outcome, options)
        except CliError as error:
            outcome.changed = []
            outcome.error = error
            self.report(outcome, options)
            raise
        self.report(outcome, options)

    def run(self, outcome: Outcome, options) -> None:
        upns = read_upns(options["csv_path"])
        outcome.requested = len(upns)
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CliError(
                _("No tenant has the short name “%(slug)s”.") % {"slug": options["tenant"]},
                code="unknown_tenant",
            )
        actor = None
        if options["actor"]:
            actor = get_user_model().objects.filter(username=options["actor"]).first()
            if actor is None:
                raise CliError(
                    _("No user is called “%(name)s”.") % {"name": options["actor"]},
                    code="unknown_actor",
                )
        for pk in self.subscription_ids(options):
            self.subscription(tenant, pk)

        bar = self.progress(_("Finding users"), options)
        try:
            user_ids = directory_user_ids_for_upns(tenant=tenant, upns=upns, progress=bar)
        except DomainError as error:
            raise self.refusal(error) from error
        finally:
            bar.finish()
        upn_of = dict(zip(user_ids, upns, strict=True))

        bar = self.progress(_("Checking") if outcome.dry_run else _("Applying"), options)
        try:
            with transaction.atomic():
                unchanged = self.unchanged(tenant=tenant, user_ids=user_ids, options=options)
                pending = [pk for pk in user_ids if pk not in unchanged]
                outcome.skipped = [upn_of[pk] for pk in user_ids if pk in unchanged]
                if pending:
                    bar(0, len(pending))
                    self.apply(tenant=tenant, actor=actor, user_ids=pending, options=options)
                    bar(len(pending), len(pending))
                outcome.changed = [upn_of[pk] for pk in pending]
                outcome.subscriptions = [
                    self.counts_of(self.subscription(tenant, pk))
                    for pk in self.subscription_ids(options)
                ]
                outcome.plan = self.describe(tenant=tenant, count=len(pending), options=options)
                if outcome.dry_run:
                    raise Rollback
        except Rollback:
            pass
        except DomainError as error:
            raise self.refusal(error) from error
        finally:
            bar.finish()

    def refusal(self, error: DomainError) -> CliError:
        details = dict(getattr(error, "details", None) or {})
        users = details.get("users")
        message = _("Refused, nothing changed: %(reason)s") % {"reason": error.message}
        if users:
            count = details.get("count", len(users))
            message += "\n  " + ngettext(
                "%(count)d user: %(users)s", "%(count)d users: %(users)s", count
            ) % {"count": count, "users": ", ".join(users)}
        return CliError(message, code=error.code, details=details, reason=error.message)

    # --- what it prints --------------------------------------------------------------------

    def summary(self, outcome: Outcome) -> str:
        return _("%(changed)s, %(skipped)s, %(refused)s.") % {
            "changed": self.changed_words(len(outcome.changed), dry_run=outcome.dry_run),
            "skipped": self.skipped_words(len(outcome.skipped)),
            "refused": ngettext("%(count)s refused", "%(count)s refused", outcome.refused)
            % {"count": number_text(outcome.refused)},
        }

    def report(self, outcome: Outcome, options) -> None:
        if options["json"]:
            self.write_json(self.document(outcome, options))
            return
        error = outcome.error
        if error is not None and error.returncode == EXIT_USAGE:
            return  # nothing was tried: the error on stderr says it all
        write = self.stdout.write
        if error is None and options["verbosity"] >= 1:
            if outcome.dry_run:
                write(_("Dry run, nothing changed. Would %(plan)s") % {"plan": outcome.plan})
            if outcome.changed:
                write("  " + _("users: %(users)s") % {"users": listed(outcome.changed)})
            if outcome.skipped:
                write(
                    "  "
                    + _("%(label)s: %(users)s")
                    % {"label": self.skipped_label, "users": listed(outcome.skipped)}
                )
            label = _("afterwards: %(counts)s") if outcome.dry_run else _("now: %(counts)s")
            for entry in outcome.subscriptions:
                write("  " + label % {"counts": self.free_text(entry)})
        ok = error is None and not outcome.dry_run
        write(self.summary(outcome), style_func=self.style.SUCCESS if ok else plain)

    def free_text(self, entry: dict) -> str:
        return ngettext(
            "%(product)s (subscription %(pk)s): %(free)s of %(quantity)s license free",
            "%(product)s (subscription %(pk)s): %(free)s of %(quantity)s licenses free",
            entry["quantity"],
        ) % {
            "product": entry["product"],
            "pk": entry["id"],
            "free": number_text(entry["free"]),
            "quantity": number_text(entry["quantity"]),
        }

    def document(self, outcome: Outcome, options) -> dict:
        error = outcome.error
        return {
            "operation": self.operation,
            "tenant": options.get("tenant"),
            **self.target_ids(options),
            "dry_run": bool(options.get("dry_run")),
            "ok": error is None,
            "counts": {
                "requested": outcome.requested,
                "changed": len(outcome.changed),
                "skipped": len(outcome.skipped),
                "refused": outcome.refused,
            },
            "users": {"changed": outcome.changed, "skipped": outcome.skipped},
            "subscriptions": outcome.subscriptions,
            "error": error.as_json() if error is not None else None,
        }

    def json_failure(self, error, options):
        outcome = Outcome(dry_run=bool(options.get("dry_run")), error=error)
        return self.document(outcome, options)


class SingleSubscriptionCommand(BulkLicenseCommand):
    """assign and unassign: one --subscription and a licensing service."""

    service = None  # staticmethod(licensing.services.license_...)

    def add_target_arguments(self, parser):
        parser.add_argument(
            "--subscription", type=int, required=True, metavar="ID", help=_("Subscription id.")
        )

    def target_ids(self, options):
        return {"subscription_id": options.get("subscription")}

    def subscription_ids(self, options):
        return [options["subscription"]]

    def holders(self, *, tenant, user_ids, options) -> set[int]:
        return holders_among(
            tenant=tenant, subscription_id=options["subscription"], user_ids=user_ids
        )

    def apply(self, *, tenant, actor, user_ids, options):
        return self.service(
            tenant=tenant,
            actor=actor,
            subscription_id=options["subscription"],
            user_ids=user_ids,
            max_users=None,
        )
