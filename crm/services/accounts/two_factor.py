"""The second factor: one-time codes from an authenticator app (TOTP) and recovery codes.

An admin may require it of every admin and manager (the setting `second_factor_required`);
anyone else may turn it on for themselves. A sign-in session records when it passed the
second factor, and a user who has one only ever holds sessions that passed it: enrolling
ends the user's other sessions, and sign-in asks for the code before a session is made.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import secrets
from datetime import datetime
from functools import cache

import pyotp
import segno
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from werkzeug.security import check_password_hash

from crm.errors import Invalid, Locked, NotFound
from crm.extensions import db
from crm.models import LoginAttempt, RecoveryCode, TwoFactor, User
from crm.services.accounts import auth as auth_service
from crm.services.install import audit, settings

ISSUER = "Factory Growth CRM"
REQUIRED_ROLES = ("admin", "manager")
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
RECOVERY_LENGTH = 10
STEP_SECONDS = 30
DRIFT_STEPS = 1  # a code of the step before or after still counts (a phone's clock drifts)
WRONG_CODE = _l("That code is not right. Type the newest code your app shows.")
CODE_FORMAT = _l("Enter the 6 digits that your authenticator app shows (digits only).")
SIGN_IN_CODE_FORMAT = _l(
    "Enter the 6 digits that your authenticator app shows, or one of your recovery codes "
    "(10 letters and digits)."
)
_DIGITS = re.compile(r"^\d{6}$")
_RECOVERY = re.compile(rf"^[{RECOVERY_ALPHABET}]{{{RECOVERY_LENGTH}}}$")


# --- who needs it -------------------------------------------------------------------------


def required_for(user: User) -> bool:
    """The install requires a second factor of this user's role."""
    return user.role in REQUIRED_ROLES and bool(settings.get("second_factor_required"))


def factor_of(user: User) -> TwoFactor | None:
    return db.session.scalar(select(TwoFactor).where(TwoFactor.user_id == user.id))


def enrolled(user: User) -> bool:
    factor = factor_of(user)
    return factor is not None and factor.confirmed


def session_passed_at(user: User) -> datetime | None:
    """When the current sign-in session passed the second factor (None: it did not)."""
    row = auth_service.current_session(user)
    return row.second_factor_at if row is not None else None


def credential_satisfied(
    user: User, passed_at: datetime | None, factor_on: bool | None = None
) -> bool:
    """A session or an API token that passed the second factor at `passed_at` (None: never)
    may act for the user: it passed, or no second factor is asked of the user.

    `factor_on`: whether the user has a second factor, when the caller read it already.
    """
    if passed_at is not None:
        return True
    if required_for(user):
        return False
    return not (enrolled(user) if factor_on is None else factor_on)


def session_satisfied(user: User) -> bool:
    """True when the current session passed the second factor, or none is required of it.

    At the start of a request, from what the user loader read (User.current_sign_in)."""
    sign_in = user.current_sign_in
    if sign_in is not None:
        return credential_satisfied(user, sign_in.second_factor_at, sign_in.factor_on)
    return credential_satisfied(user, session_passed_at(user))


def mark_session_passed(user: User, now: datetime) -> None:
    row = auth_service.current_session(user)
    if row is not None:
        row.second_factor_at = now


# --- codes --------------------------------------------------------------------------------


def clean_code(raw: str | None) -> str:
    return re.sub(r"[\s-]", "", raw or "").lower()


def _step(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = _step(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _use_totp(factor: TwoFactor, code: str, now: datetime) -> None:
    """Accept a code once: the step it belongs to, and every earlier one, is then spent."""
    step = _matching_step(factor.secret, code, now)
    if step is None:
        raise Invalid(str(WRONG_CODE), fields={"code": str(WRONG_CODE)})
    if factor.last_used_step is not None and step <= factor.last_used_step:
        message = _("That code was used already. Wait for your app to show the next one.")
        raise Invalid(message, fields={"code": message})
    factor.last_used_step = step


def _hash_recovery(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _new_recovery_codes(user: User, now: datetime) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        for _ in range(RECOVERY_CODES)
    ]
    for code in codes:
        db.session.add(
            RecoveryCode(user_id=user.id, code_hash=_hash_recovery(code), created_at=now)
        )
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def _use_recovery_code(user: User, code: str, now: datetime) -> None:
    row = db.session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash_recovery(code),
            RecoveryCode.used_at.is_(None),
        )
    )
    if row is None:
        raise Invalid(str(WRONG_CODE), fields={"code": str(WRONG_CODE)})
    row.used_at = now
    audit.record(user, "user", user.id, "use_recovery_code")


def recovery_codes_left(user: User) -> int:
    rows = db.session.scalars(
        select(RecoveryCode.id).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
        )
    )
    return len(list(rows))


# --- enrolment ----------------------------------------------------------------------------


def start_enrolment(user: User, now: datetime) -> TwoFactor:
    """A new secret for the user's app, on the user's explicit start (a POST): each start
    replaces the secret of an earlier start that was never confirmed, so a secret seen
    before (on another device, or before a password reset) never becomes the factor."""
    factor = factor_of(user)
    if factor is not None and factor.confirmed:
        raise Invalid(_("Two-step sign-in is already on for your account."))
    if factor is None:
        factor = TwoFactor(user_id=user.id)
        db.session.add(factor)
    factor.secret, factor.created_at, factor.last_used_step = pyotp.random_base32(), now, None
    db.session.flush()
    audit.record(user, "user", user.id, "start_second_factor")
    return factor


def pending_enrolment(user: User) -> TwoFactor | None:
    """The secret of a start not yet confirmed, or None."""
    factor = factor_of(user)
    return factor if factor is not None and not factor.confirmed else None


def drop_pending_enrolment(user: User) -> None:
    """Forget a started, unconfirmed secret (a new password: the next set-up starts afresh)."""
    db.session.execute(
        delete(TwoFactor).where(TwoFactor.user_id == user.id, TwoFactor.confirmed_at.is_(None))
    )


def provisioning_uri(user: User, factor: TwoFactor) -> str:
    return pyotp.TOTP(factor.secret).provisioning_uri(name=user.login, issuer_name=ISSUER)


def qr_svg(uri: str, title: str) -> str:
    """The QR code as SVG markup, drawn here: attributes only, no style, so CSP holds inline."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(
        buffer,
        kind="svg",
        xmldecl=False,
        svgns=True,
        scale=5,
        border=2,
        title=title,
        svgclass="qr-code",
        lineclass=None,
    )
    return buffer.getvalue().decode()


def confirm_enrolment(user: User, code: str, now: datetime) -> list[str]:
    """Turn the factor on with a first right code; returns the recovery codes, shown once."""
    cleaned = clean_code(code)
    if not _DIGITS.match(cleaned):
        raise Invalid(str(CODE_FORMAT), fields={"code": str(CODE_FORMAT)})
    factor = pending_enrolment(user)
    if factor is None:
        message = _("Press “Start set-up” to get a new key for your app, then type its code.")
        raise Invalid(message, fields={"code": message})
    _use_totp(factor, cleaned, now)
    factor.confirmed_at = now
    codes = _new_recovery_codes(user, now)
    mark_session_passed(user, now)
    # A password alone opened the other sessions; with a second factor it no longer may.
    auth_service.end_sessions(user, keep_token=user.current_session_token)
    audit.record(user, "user", user.id, "enrol_second_factor")
    return codes


def renew_recovery_codes(user: User, password: str, now: datetime) -> list[str]:
    if not enrolled(user):
        raise Invalid(_("Turn on two-step sign-in first."))
    _check_password(user, password)
    codes = _new_recovery_codes(user, now)
    audit.record(user, "user", user.id, "renew_recovery_codes")
    return codes


def turn_off(user: User, password: str) -> None:
    """The user's own choice; refused while the install requires it of their role."""
    if required_for(user):
        raise Invalid(_("Two-step sign-in is required for your role; it cannot be turned off."))
    if factor_of(user) is None:
        raise Invalid(_("Two-step sign-in is not on for your account."))
    _check_password(user, password)
    _remove(user)
    audit.record(user, "user", user.id, "turn_off_second_factor")


def _check_password(user: User, password: str) -> None:
    if not check_password_hash(user.password_hash, password or ""):
        message = _("This is not your current password.")
        raise Invalid(message, fields={"password": message})


def _remove(user: User) -> None:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.execute(delete(TwoFactor).where(TwoFactor.user_id == user.id))


# --- sign-in ------------------------------------------------------------------------------


@cache
def _stand_in_secret() -> str:
    # Checked against when the pending user is gone or deactivated, so both cases cost the same.
    return pyotp.random_base32()


def check_sign_in_code(
    user: User | None, login_key: str, code: str, address: str, now: datetime
) -> str:
    """The second step of sign-in: "totp" or "recovery" when the code is right.

    A user who was removed or deactivated meanwhile gets the same answers as a wrong code
    (a stand-in secret is checked); failures count toward the login's lockout.
    """
    remaining = auth_service.lockout_remaining(login_key, address, now)
    if remaining is not None:
        minutes = max(1, int(remaining.total_seconds() // 60) + 1)
        raise Locked(
            _(
                "Too many failed sign-ins from here. Wait %(minutes)d minutes and try again.",
                minutes=minutes,
            ),
            retry_after=int(remaining.total_seconds()) + 1,
        )
    cleaned = clean_code(code)
    is_digits = bool(_DIGITS.match(cleaned))
    if not is_digits and not _RECOVERY.match(cleaned):
        raise Invalid(str(SIGN_IN_CODE_FORMAT), fields={"code": str(SIGN_IN_CODE_FORMAT)})
    factor = factor_of(user) if user is not None and user.active else None
    try:
        if factor is None or not factor.confirmed:
            _matching_step(_stand_in_secret(), cleaned, now)
            raise Invalid(str(WRONG_CODE), fields={"code": str(WRONG_CODE)})
        if is_digits:
            _use_totp(factor, cleaned, now)
            return "totp"
        _use_recovery_code(factor.user, cleaned, now)
        return "recovery"
    except Invalid:
        db.session.add(LoginAttempt(login=login_key, address=address, at=now))
        raise


def login_key(user: User) -> str:
    return auth_service.normalise_login(user.login)


# --- the admin's part ---------------------------------------------------------------------


def set_required(actor: User, required: bool) -> None:
    settings.put(actor, "second_factor_required", bool(required))


def reset(actor: User, user_id: int) -> User:
    """Remove a user's second factor (a lost phone); they set it up again at next sign-in."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("There is no user with the number %(id)d.", id=user_id))
    if factor_of(user) is None:
        raise Invalid(
            _("%(name)s has no two-step sign-in to reset.", name=user.name),
            fields={"user_id": _("%(name)s has no two-step sign-in to reset.", name=user.name)},
        )
    _remove(user)
    audit.record(actor, "user", user.id, "reset_second_factor")
    return user


def overview() -> list[tuple[User, TwoFactor | None]]:
    """Admins and managers, and everyone else who turned it on, with their factor."""
    rows = db.session.execute(
        select(User, TwoFactor)
        .outerjoin(TwoFactor, TwoFactor.user_id == User.id)
        .where(User.active.is_(True))
        .where((User.role.in_(REQUIRED_ROLES)) | (TwoFactor.id.is_not(None)))
        .order_by(User.role, User.name)
    )
    return [(user, factor) for user, factor in rows]
