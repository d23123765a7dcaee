from django.utils.translation import gettext_lazy, ngettext

from licensing import services
from portal.formatting import number_text

from ._bulk import SingleSubscriptionCommand


class Command(SingleSubscriptionCommand):
    help = gettext_lazy(
        "Assign a subscription's licenses to every user named in a CSV file of user principal "
        "names. All or nothing; no 20-user limit. Users who already hold one are skipped."
    )
    operation = "assign"
    service = staticmethod(services.license_assign)
    refusals = gettext_lazy(
        "a user not in the tenant's directory or named twice, not enough free licenses, a "
        "subscription that takes no new users, an unknown tenant, subscription or actor, the "
        "tenant locked by an upgrade"
    )
    skipped_label = gettext_lazy("already held")

    def unchanged(self, *, tenant, user_ids, options):
        return self.holders(tenant=tenant, user_ids=user_ids, options=options)

    def describe(self, *, tenant, count, options):
        sub = self.subscription(tenant, options["subscription"])
        return ngettext(
            "assign %(product)s (subscription %(pk)s) to %(count)s user.",
            "assign %(product)s (subscription %(pk)s) to %(count)s users.",
            count,
        ) % {"product": sub.product.name, "pk": sub.pk, "count": number_text(count)}

    def changed_words(self, count, *, dry_run):
        if dry_run:
            text = ngettext(
                "Would assign %(count)s license", "Would assign %(count)s licenses", count
            )
        else:
            text = ngettext("Assigned %(count)s license", "Assigned %(count)s licenses", count)
        return text % {"count": number_text(count)}

    def skipped_words(self, count):
        return ngettext("%(count)s already held", "%(count)s already held", count) % {
            "count": number_text(count)
        }
