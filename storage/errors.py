"""Domain errors. Each has a stable ``code``; the bot turns codes into localised messages."""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, code: str | None = None, **params: object) -> None:
        self.code = code or type(self).code
        self.params = params
        super().__init__(self.code)


class InvalidInput(DomainError):
    """The member typed something that cannot be stored (``code`` says what is wrong)."""

    code = "invalid_input"


class NotAllowed(DomainError):
    """The actor's role does not allow this."""

    code = "not_allowed"


class NotFound(DomainError):
    code = "not_found"
