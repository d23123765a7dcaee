class DomainError(Exception):
    """A rule of the product was broken. The message is fit to show an admin as it is."""

    def __init__(self, message, *, code="invalid"):
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self):
        return str(self.message)
