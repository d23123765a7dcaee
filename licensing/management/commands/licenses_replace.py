from licensing import services

from ._bulk import BulkLicenseCommand


class Command(BulkLicenseCommand):
    help = (
        "Move every user named in a CSV file of user principal names from one subscription's "
        "license to another's. All or nothing; no 20-user limit."
    )

    def add_target_arguments(self, parser):
        parser.add_argument("--source", type=int, required=True, help="Subscription to leave.")
        parser.add_argument("--target", type=int, required=True, help="Subscription to join.")

    def describe(self, *, tenant, count, options):
        source = self.subscription(tenant, options["source"])
        target = self.subscription(tenant, options["target"])
        return (
            f"move {count} users from {source.product.name} (subscription {source.pk}) "
            f"to {target.product.name} (subscription {target.pk})."
        )

    def apply(self, *, tenant, actor, user_ids, options):
        return services.license_replace(
            tenant=tenant,
            actor=actor,
            source_id=options["source"],
            target_id=options["target"],
            user_ids=user_ids,
            max_users=None,
        )

    def after(self, *, tenant, options):
        parts = []
        for key in ("source", "target"):
            sub = self.subscription(tenant, options[key])
            parts.append(
                f"{sub.product.name}: {self.free_licenses(sub)} of {sub.quantity} licenses free"
            )
        return "; ".join(parts)
