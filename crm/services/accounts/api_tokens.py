"""Personal API tokens: made and revoked by their user, checked on every bearer request.

A token is "crm_" + eight characters of prefix (shown in lists, so that a user can tell
their tokens apart) + "_" + a random secret. Only the SHA-256 of the whole token is kept
(DESIGN.md "Sign-in": API tokens are a prefix and a secret, stored as the secret's
SHA-256); the whole token is shown once, when it is made.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import Select, Update, bindparam, select, update
from sqlalchemy.orm.attributes import set_committed_value

from crm import cache, clock, statements
from crm.errors import Invalid, NotAllowed, too_long
from crm.extensions import db
from crm.models import ApiToken, TwoFactor, User
from crm.models.api_token import TOKEN_NAME_MAX
from crm.services.accounts import two_factor
from crm.services.install import audit

TOKEN_START = "crm_"
# last_used_at is written at most this often, so that a busy integration is not a write a call.
USE_RESOLUTION = timedelta(minutes=1)
MAX_LIVE_TOKENS = 20


@dataclass
class Made:
    token: ApiToken
    secret: str  # the whole token, to show once


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(user: User, name: str, expires_at: datetime | None, now: datetime | None = None) -> Made:
    """Make a token for the user; the returned secret is the only time it can be read.

    This is the one door for making tokens (the account page calls it), so that a check
    added here (a second-factor session, say) holds for every caller.
    """
    now = now or clock.now()
    if not user.active:
        raise NotAllowed(_("This account is not active."))
    passed_at = two_factor.session_passed_at(user)
    if not two_factor.credential_satisfied(user, passed_at):
        # A token outlives the session: it may only come from one that passed the second
        # factor, where the install or the user has one.
        raise NotAllowed(_("Sign in with your second factor before you make a token."))
    name = " ".join((name or "").split())
    if not name:
        message = _("Name the token after the integration that will use it.")
        raise Invalid(message, fields={"name": message})
    if len(name) > TOKEN_NAME_MAX:
        message = too_long(_("Name"), TOKEN_NAME_MAX)
        raise Invalid(message, fields={"name": message})
    if expires_at is not None and expires_at <= now:
        message = _("Pick an expiry date after today, or none.")
        raise Invalid(message, fields={"expires_on": message})
    if len(live_tokens(user, now)) >= MAX_LIVE_TOKENS:
        message = _(
            "You have %(count)d tokens: revoke one you no longer use first.",
            count=MAX_LIVE_TOKENS,
        )
        raise Invalid(message, fields={"name": message})
    prefix = TOKEN_START + secrets.token_hex(4)
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=digest(secret),
        prefix=prefix,
        created_at=now,
        expires_at=expires_at,
        second_factor_at=passed_at,
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        user,
        "api_token",
        token.id,
        "create",
        {"name": (None, name), "expires_at": (None, expires_at)},
    )
    return Made(token=token, secret=secret)


def revoke(user: User, token_id: int, now: datetime) -> ApiToken | None:
    """Revoke one of the user's own tokens; another user's id revokes nothing (and says alike)."""
    token = db.session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)
    )
    if token is None or token.revoked_at is not None:
        return None
    token.revoked_at = now
    db.session.flush()
    audit.record(user, "api_token", token.id, "revoke", {"revoked_at": (None, now)})
    return token


def revoke_all(actor: User, user: User, now: datetime) -> int:
    """Revoke every token of the user for good (a new password, a deactivation); how many.

    Revoked, not merely refused while the user is inactive: reactivating the user or
    restoring a setting must not bring a token back.
    """
    tokens = db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).all()
    for token in tokens:
        token.revoked_at = now
        audit.record(actor, "api_token", token.id, "revoke", {"revoked_at": (None, now)})
    db.session.flush()
    return len(tokens)


def live_tokens(user: User, now: datetime) -> list[ApiToken]:
    """The user's tokens that still work, newest first."""
    rows = db.session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.id.desc())
    )
    return [token for token in rows if token.usable_at(now)]


def authenticate(secret: str, now: datetime) -> ApiToken | None:
    """The token a bearer secret names, if it works now and its user is active; else None.

    A token that a password alone made stops working once a second factor is asked of its
    user (the install requires one of the role, or the user turned one on), as a sign-in
    session of a password alone does.

    One query reads the token, its user, whether the user has a second factor and the version
    of what each process keeps (crm.cache): a bearer request's fixed cost.
    """
    if not secret.startswith(TOKEN_START) or len(secret) > 200:
        return None
    row = db.session.execute(_token_query(), {"token_hash": digest(secret)}).first()
    if row is None:
        return None
    cache.note_version(row.cache_version)
    token, user = row.ApiToken, row.User
    set_committed_value(token, "user", user)  # read above: token.user asks nothing more
    if not token.usable_at(now) or not user.active:
        return None
    factor_on = row.confirmed_at is not None
    if not two_factor.credential_satisfied(user, token.second_factor_at, factor_on):
        return None
    return token


@statements.once
def _token_query() -> Select:
    """authenticate's query, built once: a request pays for its execution only."""
    return (
        select(ApiToken, User, TwoFactor.confirmed_at, cache.version_column())
        .join(User, User.id == ApiToken.user_id)
        .outerjoin(TwoFactor, TwoFactor.user_id == User.id)
        .where(ApiToken.token_hash == bindparam("token_hash"))
    )


def use_statement(token: ApiToken, now: datetime) -> Update | None:
    """The write of a token's "last used", when it is older than USE_RESOLUTION (else None);
    skipped when another request wrote it meanwhile or (PostgreSQL) is writing it now."""
    if token.last_used_at is not None and now - token.last_used_at < USE_RESOLUTION:
        return None
    due = (
        select(ApiToken.id)
        .where(ApiToken.id == token.id)
        .where((ApiToken.last_used_at.is_(None)) | (ApiToken.last_used_at <= now - USE_RESOLUTION))
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return update(ApiToken).where(ApiToken.id == due).values(last_used_at=now)
