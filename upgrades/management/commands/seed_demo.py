import os

from django.core.management.base import BaseCommand

from upgrades.demo import ROLES_FOR_DEMO, demo_login, demo_seed, demo_stories


class Command(BaseCommand):
    help = "Create the demo tenants, admins and a support engineer (idempotent) and print sign-ins."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password",
            default=os.environ.get("PORTAL_DEMO_PASSWORD", "demo-password"),
            help="Password of every demo account (only set when the account is created).",
        )
        parser.add_argument("--all", action="store_true", help="Print every demo sign-in.")

    def handle(self, *args, password, all, **options):
        sign_ins = demo_seed(password=password)
        self.stdout.write(self.style.SUCCESS("Demo data is ready."))
        self.stdout.write("Demo organisations:")
        for name, story in demo_stories():
            self.stdout.write(f"  - {name}: {story}")
        self.stdout.write(f"Demo sign-ins (password for all: {password}):")
        shown = (
            sign_ins
            if all
            else [
                s
                for s in sign_ins
                if s[0].startswith("admin@")
                or s[0] == demo_login("contoso", ROLES_FOR_DEMO[1])
                or s[0].startswith("support@")
                or s[0].endswith("@contoso.example")
            ]
        )
        for login, what in shown:
            self.stdout.write(f"  {login:<32} {what}")
        if not all:
            self.stdout.write(
                "  (each organisation also has billing@, licenses@, users@ and "
                "reader@ accounts; --all lists them)"
            )
