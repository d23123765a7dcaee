from django.utils.translation import gettext_lazy as _

from licensing import services

from ._bulk import SingleSubscriptionCommand


class Command(SingleSubscriptionCommand):
    help = (
        "Take a subscription's licenses away from every user named in a CSV file of user "
        "principal names. All or nothing; no 20-user limit."
    )
    service = staticmethod(services.license_unassign)
    summary = _("unassign %(product)s (subscription %(pk)s) from %(count)d users.")
