"""`manage.py upgrade_status`: a tenant's upgrade runs, or one run's status, as a person reads
them (state labels in the active language, dates in the tenant's time zone) or, with --json,
exactly as the API answers them (state codes, ISO dates)."""

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from portal.cli import CliCommand, CliError, exit_codes_text
from portal.formatting import moment_text, money_text, number_text, when_text
from portal.models import Tenant
from upgrades import selectors
from upgrades.api import run_json
from upgrades.models import RunState
from upgrades.services import window_zone

LISTED_RUNS = 50


def state_label(code: str) -> str:
    try:
        return str(RunState(code).label)
    except ValueError:  # a state this version does not know: its code beats nothing
        return code


class Command(CliCommand):
    help = gettext_lazy(
        "Print an upgrade run's status: state, progress, failure and timeline. Without a run "
        "id, list the tenant's runs, newest first."
    )

    def epilog(self):
        return exit_codes_text(
            done=_("printed, whatever state the run is in (read it from the output)"),
            refused=_("not found: an unknown tenant, or a run that is not the tenant's"),
            usage=_("usage error: bad or missing arguments"),
        )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help=_("The tenant's short name (slug)."))
        parser.add_argument(
            "run_id", nargs="?", type=int, metavar="RUN_ID", help=_("The upgrade run's id.")
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help=_("Print the API's JSON instead (state codes, ISO dates)."),
        )

    def handle(self, *args, **options):
        try:
            self.show(options)
        except CliError as error:
            if options["json"]:
                self.write_json(self.json_failure(error, options))
            raise

    def show(self, options):
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CliError(
                _("No tenant has the short name “%(slug)s”.") % {"slug": options["tenant"]},
                code="unknown_tenant",
            )
        runs = selectors.upgrade_run_list(tenant=tenant)
        if options["run_id"] is None:
            shown = list(runs[:LISTED_RUNS])
            if options["json"]:
                # The API's list: {"items": [...]}, newest first.
                self.write_json({"items": [run_json(r) for r in shown]})
                return
            total = len(shown) if len(shown) < LISTED_RUNS else runs.count()
            with timezone.override(window_zone(tenant.time_zone)):
                self.list_runs(tenant, shown, total)
            return
        run = runs.filter(pk=options["run_id"]).first()
        if run is None:
            raise CliError(
                _("Tenant %(tenant)s has no upgrade run %(run)s.")
                % {"tenant": tenant.slug, "run": options["run_id"]},
                code="not_found",
            )
        events = list(selectors.upgrade_run_events(run=run))
        if options["json"]:
            self.write_json(run_json(run, events=events))
            return
        with timezone.override(window_zone(tenant.time_zone)):
            self.print_run(tenant, run, events)

    def list_runs(self, tenant, runs, total: int):
        write = self.stdout.write
        if not runs:
            write(
                _("%(tenant)s (%(slug)s) has no upgrade runs.")
                % {"tenant": tenant.name, "slug": tenant.slug}
            )
            return
        write(
            _("Upgrade runs of %(tenant)s (%(slug)s), newest first; times in %(zone)s:")
            % {
                "tenant": tenant.name,
                "slug": tenant.slug,
                "zone": timezone.get_current_timezone_name(),
            }
        )
        labels = {run.pk: state_label(run.state) for run in runs}
        width = max(len(label) for label in labels.values())
        for run in runs:
            write(
                f"  #{run.pk:<6} {labels[run.pk]:<{width}}  "
                f"{number_text(run.moved)}/{number_text(run.total)}  "
                f"{run.source.product.name} -> {run.target.name}  {when_text(run.placed_at)}"
            )
        if total > len(runs):
            summary = ngettext(
                "The newest %(shown)s of %(count)s upgrade run.",
                "The newest %(shown)s of %(count)s upgrade runs.",
                total,
            ) % {"shown": number_text(len(runs)), "count": number_text(total)}
        else:
            summary = ngettext("%(count)s upgrade run.", "%(count)s upgrade runs.", total) % {
                "count": number_text(total)
            }
        write(summary)

    def print_run(self, tenant, run, events):
        write = self.stdout.write
        write(
            _("Upgrade run #%(run)s of %(tenant)s (%(slug)s): %(source)s -> %(target)s")
            % {
                "run": run.pk,
                "tenant": tenant.name,
                "slug": tenant.slug,
                "source": run.source.product.name,
                "target": run.target.name,
            }
        )
        write("  " + _("state: %(label)s") % {"label": state_label(run.state)})
        write(
            "  "
            + ngettext(
                "progress: %(moved)s/%(total)s user moved (%(percent)d%%)",
                "progress: %(moved)s/%(total)s users moved (%(percent)d%%)",
                run.total,
            )
            % {
                "moved": number_text(run.moved),
                "total": number_text(run.total),
                "percent": run.percent,
            }
        )
        if run.failure_reason:
            write(
                "  "
                + _("failed at %(step)s: %(reason)s")
                % {"step": state_label(run.failed_step), "reason": run.failure_reason}
            )
        zone = timezone.get_current_timezone_name()
        write(
            "  "
            + _("placed: %(when)s (%(zone)s)") % {"when": when_text(run.placed_at), "zone": zone}
        )
        if run.scheduled_for:
            write(
                "  "
                + _("scheduled for: %(when)s (%(zone)s)")
                % {"when": when_text(run.scheduled_for), "zone": zone}
            )
        if run.finished_at:
            write(
                "  "
                + _("finished: %(when)s (%(zone)s)")
                % {"when": when_text(run.finished_at), "zone": zone}
            )
        order = run.order
        write(
            "  "
            + _("order: #%(order)s, %(total)s by %(method)s")
            % {
                "order": order.pk,
                "total": money_text(order.total, order.currency),
                "method": order.get_payment_method_display(),
            }
        )
        url = reverse("upgrade_status", args=[tenant.slug, run.pk])
        write("  " + _("status page: %(url)s") % {"url": url})
        write("  " + _("timeline:"))
        for event in events:
            who = event.actor.get_username() if event.actor else _("system")
            why = f": {event.reason}" if event.reason else ""
            before = state_label(event.from_state) if event.from_state else "-"
            write(
                f"    {moment_text(event.at)}  {before} -> {state_label(event.to_state)}  "
                f"({who}){why}"
            )
