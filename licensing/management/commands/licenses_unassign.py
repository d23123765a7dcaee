from licensing import services

from ._bulk import BulkLicenseCommand


class Command(BulkLicenseCommand):
    help = (
        "Take a subscription's licenses away from every user named in a CSV file of user "
        "principal names. All or nothing; no 20-user limit."
    )

    def add_target_arguments(self, parser):
        parser.add_argument("--subscription", type=int, required=True, help="Subscription id.")

    def describe(self, *, tenant, count, options):
        sub = self.subscription(tenant, options["subscription"])
        return f"unassign {sub.product.name} (subscription {sub.pk}) from {count} users."

    def apply(self, *, tenant, actor, user_ids, options):
        return services.license_unassign(
            tenant=tenant,
            actor=actor,
            subscription_id=options["subscription"],
            user_ids=user_ids,
            max_users=None,
        )

    def after(self, *, tenant, options):
        sub = self.subscription(tenant, options["subscription"])
        return f"{sub.product.name}: {self.free_licenses(sub)} of {sub.quantity} licenses free"
