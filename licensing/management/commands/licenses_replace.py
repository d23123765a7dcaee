from django.utils.translation import gettext as _

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
        return _(
            "move %(count)d users from %(source)s (subscription %(source_pk)s) to %(target)s "
            "(subscription %(target_pk)s)."
        ) % {
            "count": count,
            "source": source.product.name,
            "source_pk": source.pk,
            "target": target.product.name,
            "target_pk": target.pk,
        }

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
            parts.append(self.free_text(sub))
        return "; ".join(parts)
