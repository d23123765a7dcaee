from django.utils.translation import gettext as _

from licensing import services

from ._bulk import BulkLicenseCommand


class Command(BulkLicenseCommand):
    help = (
        "Assign a subscription's licenses to every user named in a CSV file of user principal "
        "names. All or nothing; no 20-user limit."
    )

    def add_target_arguments(self, parser):
        parser.add_argument("--subscription", type=int, required=True, help="Subscription id.")

    def describe(self, *, tenant, count, options):
        sub = self.subscription(tenant, options["subscription"])
        return _("assign %(product)s (subscription %(pk)s) to %(count)d users.") % {
            "product": sub.product.name,
            "pk": sub.pk,
            "count": count,
        }

    def apply(self, *, tenant, actor, user_ids, options):
        return services.license_assign(
            tenant=tenant,
            actor=actor,
            subscription_id=options["subscription"],
            user_ids=user_ids,
            max_users=None,
        )

    def after(self, *, tenant, options):
        sub = self.subscription(tenant, options["subscription"])
        return self.free_text(sub)
