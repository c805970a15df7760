"""Domain errors: one type per kind of refusal, answered in one place (views/errors.py)."""

from __future__ import annotations


class DomainError(Exception):
    """A refusal that a service raises and the edge turns into a page, a fragment or JSON."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str = "", fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class NotFound(DomainError):
    """Absent, or out of the user's scope: both look the same from outside."""

    status = 404
    code = "not_found"


class NotAllowed(DomainError):
    """In scope, but the user's role may not take this action."""

    status = 403
    code = "forbidden"


class Invalid(DomainError):
    """The input breaks a rule; `fields` says which field and why."""

    status = 422
    code = "validation_error"


class Conflict(DomainError):
    """The request clashes with what is already stored (e.g. a key reused with other content)."""

    status = 409
    code = "conflict"


class Locked(DomainError):
    """Too many attempts: wait and try again."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str = "", retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after
