"""Forms of a team's notification channel and of the jobs page's "send again": shape only."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from crm.forms import PageForm
from crm.services.notices.webhook_channels import KIND_LABELS
from crm.values import id_or_none


class ChannelForm(PageForm):
    # Lengths and choices are the service's to check, so the messages are the same everywhere.
    kind = SelectField(
        _l("Robot"),
        choices=[SelectChoice(kind, label) for kind, label in KIND_LABELS.items()],
        validate_choice=False,
        default="wecom",
    )
    url = StringField(
        _l("Webhook address"),
        description=_l("Copy it from the robot's settings in the group chat (https://…)."),
        render_kw={"inputmode": "url", "autocomplete": "off", "spellcheck": "false"},
    )
    keyword = StringField(
        _l("Keyword (DingTalk)"),
        description=_l(
            "For a DingTalk robot in keyword mode: every message will carry it. "
            "Leave empty for WeCom."
        ),
        render_kw={"autocomplete": "off"},
    )
    secret = PasswordField(
        _l("Signing secret (DingTalk)"),
        description=_l(
            "For a DingTalk robot in signed mode (it starts with SEC). "
            "Leave empty to keep the one stored."
        ),
        render_kw={"autocomplete": "new-password", "spellcheck": "false"},
    )
    remove_secret = BooleanField(_l("Remove the stored secret"))
    locale = SelectField(
        _l("Language of the messages"),
        choices=[SelectChoice("zh_Hans", "简体中文"), SelectChoice("en", "English")],
        validate_choice=False,
        default="zh_Hans",
    )
    active = BooleanField(
        _l("Send to this group"),
        default=True,
        description=_l("Untick to stop the messages without losing the settings."),
    )

    def values(self) -> dict[str, Any]:
        return {
            "kind": self.kind.data,
            "url": self.url.data,
            "keyword": self.keyword.data,
            "new_secret": self.secret.data,
            "remove_secret": self.remove_secret.data,
            "locale": self.locale.data,
            "active": self.active.data,
        }


class ChannelTestForm(PageForm):
    """Sends a test message to the stored channel; no fields but the CSRF token."""


class SendAgainForm(PageForm):
    delivery_id = HiddenField(validators=[InputRequired()])

    def delivery(self) -> int | None:
        return id_or_none(self.delivery_id.data)
