import json

from django.core.management.base import BaseCommand, CommandError

from portal.models import Tenant
from upgrades import selectors
from upgrades.api import run_json


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
            raise CommandError(f"No tenant has the short name {options['tenant']!r}.")
        if options["run_id"] is None:
            runs = list(selectors.upgrade_run_list(tenant=tenant)[:50])
            if options["json"]:
                self.stdout.write(json.dumps([run_json(r) for r in runs], indent=2))
                return
            if not runs:
                self.stdout.write(f"{tenant.slug} has no upgrade runs.")
            for run in runs:
                self.stdout.write(
                    f"#{run.pk}  {run.state:<22} {run.moved}/{run.total}  "
                    f"{run.source.product.name} -> {run.target.name}  "
                    f"placed {run.placed_at:%Y-%m-%d %H:%M}"
                )
            return
        run = selectors.upgrade_run_list(tenant=tenant).filter(pk=options["run_id"]).first()
        if run is None:
            raise CommandError(f"Tenant {tenant.slug} has no upgrade run {options['run_id']}.")
        data = run_json(run, events=selectors.upgrade_run_events(run=run))
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2))
            return
        self.stdout.write(
            f"Upgrade run #{run.pk} of {tenant.name} ({tenant.slug}): "
            f"{run.source.product.name} -> {run.target.name}"
        )
        self.stdout.write(f"  state:    {data['state_label']} ({run.state})")
        self.stdout.write(
            f"  progress: {run.moved}/{run.total} users moved ({data['progress']['percent']}%)"
        )
        if run.failure_reason:
            self.stdout.write(f"  failed at {run.failed_step}: {run.failure_reason}")
        self.stdout.write(
            f"  order:    #{run.order_id}, {run.order.total} {run.order.currency} "
            f"by {run.order.payment_method}"
        )
        self.stdout.write(f"  status page: {data['status_url']}")
        self.stdout.write("  timeline:")
        for event in data["events"]:
            who = event["actor"] or "system"
            why = f": {event['reason']}" if event["reason"] else ""
            self.stdout.write(
                f"    {event['at']}  {event['from'] or '-'} -> {event['to']}  ({who}){why}"
            )
