"""A team's group robot (WeCom or DingTalk) as the admin sets it up: its rules and its list.

What is sent to it, and how, is crm.services.notices.webhooks.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from crm.errors import Invalid, NotFound
from crm.extensions import db
from crm.models import NotificationChannel, Team, User, WebhookDelivery
from crm.models.webhooks import CHANNEL_KINDS, KEYWORD_MAX, SECRET_MAX, URL_MAX
from crm.services.install import audit
from crm.services.notices import robot_address

LOCALES = ("zh_Hans", "en")
KIND_LABELS = {
    "wecom": _l("WeCom (企业微信) group robot"),
    "dingtalk": _l("DingTalk (钉钉) group robot"),
}
URL_REQUIRED = _l("Enter the robot's webhook address.")
URL_SCHEME = robot_address.HTTPS_ONLY


def get_team(team_id: int) -> Team:
    team = db.session.get(Team, team_id)
    if team is None:
        raise NotFound(_("No such team."))
    return team


def channel_of(team: Team) -> NotificationChannel | None:
    return db.session.scalar(
        select(NotificationChannel).where(NotificationChannel.team_id == team.id)
    )


@dataclass
class TeamChannel:
    team: Team
    channel: NotificationChannel | None
    failed: int


def team_channels() -> list[TeamChannel]:
    """Every team with its channel (or none) and its failed deliveries, for the admin's list."""
    teams = db.session.scalars(select(Team).order_by(Team.name)).all()
    channels = {
        channel.team_id: channel for channel in db.session.scalars(select(NotificationChannel))
    }
    failed = dict(
        db.session.execute(
            select(NotificationChannel.team_id, func.count(WebhookDelivery.id))
            .join(WebhookDelivery, WebhookDelivery.channel_id == NotificationChannel.id)
            .where(WebhookDelivery.status == "failed")
            .group_by(NotificationChannel.team_id)
        ).all()
    )
    return [TeamChannel(team, channels.get(team.id), failed.get(team.id, 0)) for team in teams]


def _too_long(value: str, limit: int) -> str | None:
    return _("Use at most %(max)d characters (now %(length)d).", max=limit, length=len(value))


def url_shape_problem(url: str) -> str | None:
    """Why a text is not a web address that a robot could have, for its field; None if it is.

    Checked again at each sending: an address stored before this check must not stop a queue.
    """
    if not url:
        return str(URL_REQUIRED)
    if len(url) > URL_MAX:
        return _too_long(url, URL_MAX)
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError on a port that is not a number
    except ValueError:
        return str(URL_SCHEME)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return str(URL_SCHEME)
    if any(character.isspace() or ord(character) < 32 for character in url):
        return _("A web address has no spaces: copy it again from the robot's settings.")
    return None


def _url_problem(url: str) -> str | None:
    return url_shape_problem(url) or robot_address.problem(url)


def _check(values: dict[str, Any], secret: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    kind, keyword = values["kind"], values["keyword"]
    if kind not in CHANNEL_KINDS:
        fields["kind"] = _("Choose WeCom or DingTalk.")
    if problem := _url_problem(values["url"]):
        fields["url"] = problem
    if len(keyword) > KEYWORD_MAX:
        fields["keyword"] = _too_long(keyword, KEYWORD_MAX)
    elif keyword and kind == "wecom":
        fields["keyword"] = _("A WeCom robot has no keyword: leave this empty.")
    if len(values["new_secret"]) > SECRET_MAX:
        fields["secret"] = _too_long(values["new_secret"], SECRET_MAX)
    elif any(character.isspace() for character in values["new_secret"]):
        fields["secret"] = _("A secret has no spaces: copy it again from the robot's settings.")
    elif secret and kind == "wecom":
        fields["secret"] = _("A WeCom robot signs nothing: leave the secret empty.")
    if values["locale"] not in LOCALES:
        fields["locale"] = _("Choose the group's language.")
    return fields


def _redacted(url: str) -> str:
    """The address without its query, where the robot's access token sits (kept out of the log)."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) + (
        "?…" if parts.query else ""
    )


def _snapshot(channel: NotificationChannel | None) -> dict[str, Any]:
    if channel is None:
        return {}
    return {
        "kind": channel.kind,
        "url": _redacted(channel.url),
        "keyword": channel.keyword,
        "signed": bool(channel.secret),
        "locale": channel.locale,
        "active": channel.active,
    }


def save_channel(actor: User, team: Team, values: dict[str, Any]) -> NotificationChannel:
    """Create or change a team's channel. `new_secret` empty keeps the stored secret.

    values: kind, url, keyword, new_secret, remove_secret, locale, active.
    """
    values = {
        **values,
        "url": (values.get("url") or "").strip(),
        "keyword": (values.get("keyword") or "").strip(),
        "new_secret": (values.get("new_secret") or "").strip(),
        "locale": values.get("locale") or "zh_Hans",
    }
    channel = channel_of(team)
    before = _snapshot(channel)
    secret = channel.secret if channel is not None else ""
    if values.get("remove_secret"):
        secret = ""
    if values["new_secret"]:
        secret = values["new_secret"]
    if fields := _check(values, secret if values["new_secret"] else ""):
        raise Invalid(_("Not saved: correct the fields marked."), fields=fields)
    if values["kind"] == "wecom":
        secret = ""  # a stored DingTalk secret means nothing to a WeCom robot
    if channel is None:
        channel = NotificationChannel(team_id=team.id)
        db.session.add(channel)
    secret_changed = secret != (channel.secret or "")
    channel.kind, channel.url, channel.keyword = values["kind"], values["url"], values["keyword"]
    channel.secret, channel.locale = secret, values["locale"]
    channel.active = bool(values.get("active"))
    db.session.flush()
    changes = audit.diff(before, _snapshot(channel))
    if secret_changed and "signed" not in changes:
        changes["secret"] = ("…", "…")  # replaced by another: recorded, never copied
    if changes:
        action = "create" if not before else "update"
        audit.record(actor, "notification_channel", channel.id, action, changes)
    return channel
