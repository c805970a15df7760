"""Domain errors: one type per kind of refusal, answered in one place (views/errors.py)."""

from __future__ import annotations

import re

from flask_babel import gettext as _


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


class StorageUnavailable(DomainError):
    """The upload store (a folder or an S3 bucket) cannot be read or written for now: nothing of
    the request is kept, and sending it again later will work (crm.services.storage)."""

    status = 503
    code = "unavailable"
    retry_after = 30

    def __init__(self, reason: str = "") -> None:
        super().__init__(
            _("Files cannot be stored or read for a moment. Nothing was saved; try again soon.")
        )
        self.reason = reason


class Locked(DomainError):
    """Too many attempts: wait and try again."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str = "", retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# --- the words of a length or range refusal ----------------------------------------------
# One message per kind of limit, naming the field it is about, for the forms, the services and
# the API alike: a shared "Use at most N characters." was translated once, for the password
# ("密码最多…"), and then said so under a company name.

# A label's "(optional)" or "（选填）" is the form's hint, not the field's name.
_LABEL_HINT = re.compile(r"\s*[(（][^()（）]*[)）]\s*$")


def field_name(label: object) -> str:
    """The field's name as its label says it, without a trailing "(optional)"."""
    return _LABEL_HINT.sub("", str(label)).strip() or str(label)


def too_long(label: object, limit: int, length: int | None = None) -> str:
    if length is not None:
        return _(
            "%(field)s: use at most %(max)d characters (now %(length)d).",
            field=field_name(label),
            max=limit,
            length=length,
        )
    return _("%(field)s: use at most %(max)d characters.", field=field_name(label), max=limit)


def too_short(label: object, limit: int) -> str:
    return _("%(field)s: use at least %(min)d characters.", field=field_name(label), min=limit)


def below(label: object, low: object) -> str:
    return _("%(field)s: enter %(low)s or more.", field=field_name(label), low=low)


def above(label: object, high: object) -> str:
    return _("%(field)s: enter %(high)s or less.", field=field_name(label), high=high)


def item_field(items: str, index: int, name: str | None = None) -> str:
    """How a refusal names a field of one item of a list, counting from 0: `items[3].value`
    (`items[3]`: the item whole), for the body's shape and the service's rules alike."""
    return f"{items}[{index}]" if name is None else f"{items}[{index}].{name}"
