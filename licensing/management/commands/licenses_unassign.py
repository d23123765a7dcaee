from django.utils.translation import gettext_lazy, ngettext

from licensing import services
from portal.formatting import number_text

from ._bulk import SingleSubscriptionCommand


class Command(SingleSubscriptionCommand):
    help = gettext_lazy(
        "Take a subscription's licenses away from every user named in a CSV file of user "
        "principal names. All or nothing; no 20-user limit. Users who do not hold one are "
        "skipped."
    )
    operation = "unassign"
    service = staticmethod(services.license_unassign)
    refusals = gettext_lazy(
        "a user not in the tenant's directory or named twice, an unknown tenant, subscription "
        "or actor, the tenant locked by an upgrade"
    )
    skipped_label = gettext_lazy("not held")

    def unchanged(self, *, tenant, user_ids, options):
        return set(user_ids) - self.holders(tenant=tenant, user_ids=user_ids, options=options)

    def describe(self, *, tenant, count, options):
        sub = self.subscription(tenant, options["subscription"])
        return ngettext(
            "unassign %(product)s (subscription %(pk)s) from %(count)s user.",
            "unassign %(product)s (subscription %(pk)s) from %(count)s users.",
            count,
        ) % {"product": sub.product.name, "pk": sub.pk, "count": number_text(count)}

    def changed_words(self, count, *, dry_run):
        if dry_run:
            text = ngettext(
                "Would unassign %(count)s license", "Would unassign %(count)s licenses", count
            )
        else:
            text = ngettext("Unassigned %(count)s license", "Unassigned %(count)s licenses", count)
        return text % {"count": number_text(count)}

    def skipped_words(self, count):
        return ngettext("%(count)s not held", "%(count)s not held", count) % {
            "count": number_text(count)
        }
