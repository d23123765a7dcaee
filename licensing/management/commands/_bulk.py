"""What the three bulk license commands share: reading user principal names from a CSV file,
a progress bar on stderr, a dry run that applies the change in a transaction it then rolls
back (so it reports exactly what would change, or exactly why it would be refused), and
turning refusals into a non-zero exit with the offending users listed."""

import csv
import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _

from billing.selectors import subscription_get
from licensing.bulk import directory_user_ids_for_upns
from portal.errors import DomainError
from portal.models import Tenant

UPN_HEADERS = {"upn", "userprincipalname", "user principal name", "user_principal_name"}
SHOWN_USERS = 10


class Rollback(Exception):
    """Raised inside the dry run's transaction to undo it."""


class ProgressBar:
    """`label [#####.....]  500/1000` redrawn in place on stderr."""

    def __init__(self, stream, label: str, *, width: int = 30, enabled: bool = True):
        self.stream = stream
        self.label = label
        self.width = width
        self.enabled = enabled
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        filled = int(self.width * done / total)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total}", ending="")
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("")
            self.drawn = False


def read_upns(path: str) -> list[str]:
    """User principal names from the first column of a CSV file, or from the column headed
    UPN / UserPrincipalName when there is a header row. Blank rows are skipped; "-" reads
    standard input."""
    try:
        if path == "-":
            rows = list(csv.reader(sys.stdin))
        else:
            with Path(path).open(newline="", encoding="utf-8-sig") as handle:
                rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise CommandError(
            _("Cannot read %(path)s: %(error)s") % {"path": path, "error": error}
        ) from error
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    column = 0
    if rows:
        header = [cell.strip().lower() for cell in rows[0]]
        named = [i for i, cell in enumerate(header) if cell in UPN_HEADERS]
        if named:
            column = named[0]
            rows = rows[1:]
    upns = [row[column].strip() if column < len(row) else "" for row in rows]
    empty = [n for n, upn in enumerate(upns, start=1) if not upn]
    if empty:
        raise CommandError(_("Rows without a user principal name: %(rows)s") % {"rows": empty[:20]})
    if not upns:
        raise CommandError(_("%(path)s names no users.") % {"path": path})
    return upns


def listed(upns: list[str]) -> str:
    text = ", ".join(upns[:SHOWN_USERS])
    if len(upns) > SHOWN_USERS:
        text += " " + _("and %(count)d more") % {"count": len(upns) - SHOWN_USERS}
    return text


class BulkLicenseCommand(BaseCommand):
    """Subclasses implement add_target_arguments, describe, apply and after."""

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="The tenant's short name (slug).")
        parser.add_argument(
            "--csv",
            required=True,
            dest="csv_path",
            help="CSV file of user principal names (first column, or a UPN column); - for stdin.",
        )
        self.add_target_arguments(parser)
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check everything and report what would change; change nothing.",
        )
        parser.add_argument(
            "--actor", help="Username recorded as the actor in the audit log (default: none)."
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="Do not draw the progress bar."
        )

    def add_target_arguments(self, parser):
        raise NotImplementedError

    def apply(self, *, tenant, actor, user_ids: list[int], options) -> int:
        raise NotImplementedError

    def describe(self, *, tenant, count: int, options) -> str:
        """One line saying what the change does (before it is applied)."""
        raise NotImplementedError

    def subscription(self, tenant, pk: int):
        try:
            return subscription_get(tenant=tenant, pk=pk)
        except Http404:
            raise CommandError(
                _("Tenant %(tenant)s has no subscription %(pk)s.")
                % {"tenant": tenant.slug, "pk": pk}
            ) from None

    def free_text(self, subscription) -> str:
        return _("%(product)s: %(free)d of %(quantity)d licenses free") % {
            "product": subscription.product.name,
            "free": self.free_licenses(subscription),
            "quantity": subscription.quantity,
        }

    def free_licenses(self, subscription) -> int:
        # subscription_get counts the assigned licenses as it loads the row.
        return subscription.quantity - subscription.assigned

    def handle(self, *args, **options):
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(
                _("No tenant has the short name “%(slug)s”.") % {"slug": options["tenant"]}
            )
        actor = None
        if options["actor"]:
            actor = get_user_model().objects.filter(username=options["actor"]).first()
            if actor is None:
                raise CommandError(_("No user is called “%(name)s”.") % {"name": options["actor"]})
        upns = read_upns(options["csv_path"])
        show = not options["no_progress"]

        bar = ProgressBar(self.stderr, _("Finding users"), enabled=show)
        try:
            user_ids = directory_user_ids_for_upns(tenant=tenant, upns=upns, progress=bar)
        except DomainError as error:
            bar.finish()
            self.refuse(error)
        bar.finish()

        plan = self.describe(tenant=tenant, count=len(user_ids), options=options)
        bar = ProgressBar(self.stderr, _("Applying"), enabled=show)
        bar(0, len(user_ids))
        try:
            with transaction.atomic():
                changed = self.apply(tenant=tenant, actor=actor, user_ids=user_ids, options=options)
                after = self.after(tenant=tenant, options=options)
                if options["dry_run"]:
                    raise Rollback
        except Rollback:
            pass
        except DomainError as error:
            bar.finish()
            self.refuse(error)
        bar(len(user_ids), len(user_ids))
        bar.finish()

        if options["dry_run"]:
            self.stdout.write(_("Dry run, nothing changed. Would %(plan)s") % {"plan": plan})
            self.stdout.write("  " + _("users: %(users)s") % {"users": listed(upns)})
            if after:
                self.stdout.write("  " + _("afterwards: %(counts)s") % {"counts": after})
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    _("Done, %(count)d users changed: %(plan)s") % {"count": changed, "plan": plan}
                )
            )
            if after:
                self.stdout.write("  " + _("now: %(counts)s") % {"counts": after})

    def after(self, *, tenant, options) -> str:
        """The affected subscriptions' counts once the change is applied (inside the
        transaction, so a dry run can report them before rolling back)."""
        return ""

    def refuse(self, error: DomainError):
        details = getattr(error, "details", None) or {}
        users = details.get("users")
        message = _("Refused, nothing changed: %(reason)s") % {"reason": error.message}
        if users:
            message += "\n  " + _("%(count)d users: %(users)s") % {
                "count": details.get("count", len(users)),
                "users": ", ".join(users),
            }
        raise CommandError(message)


class SingleSubscriptionCommand(BulkLicenseCommand):
    """assign and unassign: one --subscription, a licensing service and a summary line."""

    service = None  # staticmethod(licensing.services.license_...)
    summary = None  # lazily translated, with %(product)s, %(pk)s and %(count)d

    def add_target_arguments(self, parser):
        parser.add_argument("--subscription", type=int, required=True, help="Subscription id.")

    def describe(self, *, tenant, count, options):
        sub = self.subscription(tenant, options["subscription"])
        return self.summary % {"product": sub.product.name, "pk": sub.pk, "count": count}

    def apply(self, *, tenant, actor, user_ids, options):
        return self.service(
            tenant=tenant,
            actor=actor,
            subscription_id=options["subscription"],
            user_ids=user_ids,
            max_users=None,
        )

    def after(self, *, tenant, options):
        return self.free_text(self.subscription(tenant, options["subscription"]))
