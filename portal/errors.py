class DomainError(Exception):
    """A rule of the product was broken. The message is fit to show an admin as it is."""

    def __init__(self, message, *, code="invalid"):
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self):
        return str(self.message)


class AdminLocked(DomainError):
    """The tenant is admin-locked (an upgrade is running): the write was refused and nothing
    changed. `details` carries where the admin can follow the upgrade."""

    def __init__(self, message, *, status_url: str = ""):
        super().__init__(message, code="admin_locked")
        self.details = {"status_url": status_url}
