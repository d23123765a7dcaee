from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from licensing import services
from portal.formatting import number_text

from ._bulk import BulkLicenseCommand, holders_among


class Command(BulkLicenseCommand):
    help = gettext_lazy(
        "Move every user named in a CSV file of user principal names from one subscription's "
        "license to another's. All or nothing; no 20-user limit. Users who already hold the "
        "target's license and not the source's are skipped."
    )
    operation = "replace"
    refusals = gettext_lazy(
        "a user not in the tenant's directory, named twice or holding neither license, not "
        "enough free licenses on the target, a plan and an add-on, an unknown tenant, "
        "subscription or actor, the tenant locked by an upgrade"
    )
    skipped_label = gettext_lazy("already moved")

    def add_target_arguments(self, parser):
        parser.add_argument(
            "--source", type=int, required=True, metavar="ID", help=_("Subscription to leave.")
        )
        parser.add_argument(
            "--target", type=int, required=True, metavar="ID", help=_("Subscription to join.")
        )

    def target_ids(self, options):
        return {"source_id": options.get("source"), "target_id": options.get("target")}

    def subscription_ids(self, options):
        return [options["source"], options["target"]]

    def unchanged(self, *, tenant, user_ids, options):
        on_target = holders_among(
            tenant=tenant, subscription_id=options["target"], user_ids=user_ids
        )
        on_source = holders_among(
            tenant=tenant, subscription_id=options["source"], user_ids=user_ids
        )
        return on_target - on_source

    def describe(self, *, tenant, count, options):
        source = self.subscription(tenant, options["source"])
        target = self.subscription(tenant, options["target"])
        return ngettext(
            "move %(count)s user from %(source)s (subscription %(source_pk)s) to %(target)s "
            "(subscription %(target_pk)s).",
            "move %(count)s users from %(source)s (subscription %(source_pk)s) to %(target)s "
            "(subscription %(target_pk)s).",
            count,
        ) % {
            "count": number_text(count),
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

    def changed_words(self, count, *, dry_run):
        if dry_run:
            text = ngettext("Would move %(count)s user", "Would move %(count)s users", count)
        else:
            text = ngettext("Moved %(count)s user", "Moved %(count)s users", count)
        return text % {"count": number_text(count)}

    def skipped_words(self, count):
        return ngettext("%(count)s already moved", "%(count)s already moved", count) % {
            "count": number_text(count)
        }
