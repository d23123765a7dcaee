import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from portal.models import Tenant
from upgrades import selectors
from upgrades.api import run_json

LISTED_RUNS = 50


class Command(BaseCommand):
    help = (
        "Print an upgrade run's status: state, progress, failure and timeline. Without a run "
        "id, list the tenant's runs, newest first."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="The tenant's short name (slug).")
        parser.add_argument("run_id", nargs="?", type=int, help="The upgrade run's id.")
        parser.add_argument("--json", action="store_true", help="Print the API's JSON instead.")

    def handle(self, *args, **options):
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(
                _("No tenant has the short name “%(slug)s”.") % {"slug": options["tenant"]}
            )
        runs = selectors.upgrade_run_list(tenant=tenant)
        if options["run_id"] is None:
            self.list_runs(tenant, list(runs[:LISTED_RUNS]), as_json=options["json"])
            return
        run = runs.filter(pk=options["run_id"]).first()
        if run is None:
            raise CommandError(
                _("Tenant %(tenant)s has no upgrade run %(run)s.")
                % {"tenant": tenant.slug, "run": options["run_id"]}
            )
        data = run_json(run, events=selectors.upgrade_run_events(run=run))
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2))
            return
        self.print_run(tenant, run, data)

    def list_runs(self, tenant, runs, *, as_json: bool):
        if as_json:
            self.stdout.write(json.dumps([run_json(r) for r in runs], indent=2))
            return
        if not runs:
            self.stdout.write(_("%(tenant)s has no upgrade runs.") % {"tenant": tenant.slug})
        for run in runs:
            self.stdout.write(
                f"#{run.pk}  {run.state:<22} {run.moved}/{run.total}  "
                f"{run.source.product.name} -> {run.target.name}  "
                f"{run.placed_at:%Y-%m-%d %H:%M}"
            )

    def print_run(self, tenant, run, data):
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
        write(
            "  "
            + _("state: %(label)s (%(state)s)") % {"label": data["state_label"], "state": run.state}
        )
        write(
            "  "
            + _("progress: %(moved)d/%(total)d users moved (%(percent)d%%)")
            % {"moved": run.moved, "total": run.total, "percent": data["progress"]["percent"]}
        )
        if run.failure_reason:
            write(
                "  "
                + _("failed at %(step)s: %(reason)s")
                % {"step": run.failed_step, "reason": run.failure_reason}
            )
        write(
            "  "
            + _("order: #%(order)s, %(total)s %(currency)s by %(method)s")
            % {
                "order": run.order_id,
                "total": run.order.total,
                "currency": run.order.currency,
                "method": run.order.payment_method,
            }
        )
        write("  " + _("status page: %(url)s") % {"url": data["status_url"]})
        write("  " + _("timeline:"))
        for event in data["events"]:
            who = event["actor"] or _("system")
            why = f": {event['reason']}" if event["reason"] else ""
            write(f"    {event['at']}  {event['from'] or '-'} -> {event['to']}  ({who}){why}")
