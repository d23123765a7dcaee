from .texts import stored


class DomainError(Exception):
    """A rule of the product was broken. The message is fit to show an admin as it is.

    The message may be a stored text (portal.texts.text(key, ...)): then `message` is its
    sentence in the language active when the error was raised (for the page or API answer at
    hand) and `text` keeps the key, so a failure recorded for later is shown in the language of
    whoever reads it then."""

    def __init__(self, message, *, code="invalid"):
        super().__init__(str(message))
        self.text = stored(message)
        self.message = str(message)
        self.code = code

    def __str__(self):
        return str(self.message)


class AdminLocked(DomainError):
    """The tenant is admin-locked (an upgrade is running): the write was refused and nothing
    changed. `details` carries where the admin can follow the upgrade."""

    def __init__(self, message, *, status_url: str = ""):
        super().__init__(message, code="admin_locked")
        self.details = {"status_url": status_url}
