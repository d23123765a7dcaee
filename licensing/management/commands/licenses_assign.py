from django.utils.translation import gettext_lazy as _

from licensing import services

from ._bulk import SingleSubscriptionCommand


class Command(SingleSubscriptionCommand):
    help = (
        "Assign a subscription's licenses to every user named in a CSV file of user principal "
        "names. All or nothing; no 20-user limit."
    )
    service = staticmethod(services.license_assign)
    summary = _("assign %(product)s (subscription %(pk)s) to %(count)d users.")
