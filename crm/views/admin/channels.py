"""The admin's team notification channels: a WeCom or DingTalk group robot per team.

Admins only: DESIGN.md "Who may do what" keeps teams and settings to the admin, and a
channel is a team's setting that carries the robot's credentials.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm import scope
from crm.extensions import db
from crm.forms.channels import ChannelForm, ChannelTestForm
from crm.models import WebhookDelivery
from crm.services.notices import webhook_channels, webhooks
from crm.views.admin import bp
from crm.views.errors import save_form

RECENT = 10


@bp.route("/channels")
@scope.allow("admin")
def channels():
    return render_template(
        "admin/channels.html",
        rows=webhook_channels.team_channels(),
        kind_label=_kind_label,
    )


@bp.route("/teams/<int:team_id>/channel", methods=["GET", "POST"])
@scope.allow("admin")
def team_channel(team_id: int):
    team = webhook_channels.get_team(team_id)
    channel = webhook_channels.channel_of(team)
    form = ChannelForm(data=_initial(channel) if request.method == "GET" else None)
    saved = form.validate_on_submit() and save_form(
        form, lambda: webhook_channels.save_channel(current_user, team, form.values())
    )
    if saved:
        flash(_("Channel saved for %(team)s.", team=team.name), "success")
        return redirect(url_for("admin.team_channel", team_id=team.id), code=303)
    recent = []
    if channel is not None:
        recent = db.session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.channel_id == channel.id)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
            .limit(RECENT)
        ).all()
    status = 422 if request.method == "POST" else 200
    return render_template(
        "admin/channel.html",
        team=team,
        channel=channel,
        form=form,
        test_form=ChannelTestForm(formdata=None),
        recent=recent,
        failed=status == 422,
        event_label=_event_label,
    ), status


@bp.route("/teams/<int:team_id>/channel/test", methods=["POST"])
@scope.allow("admin")
def test_channel(team_id: int):
    team = webhook_channels.get_team(team_id)
    channel = webhook_channels.channel_of(team)
    back = redirect(url_for("admin.team_channel", team_id=team.id), code=303)
    if not ChannelTestForm().validate_on_submit():
        flash(_("The form expired. Reload the page and send the test again."), "danger")
        return back
    if channel is None:
        flash(_("Save the channel first, then send a test message."), "danger")
        return back
    delivery = webhooks.send_test(current_user, channel)
    if delivery.status == "sent":
        flash(_("The robot took the test message: look in the group chat."), "success")
    else:
        flash(
            _(
                "The robot did not take the test message (%(error)s). "
                "Check the address, the keyword and the secret.",
                error=delivery.last_error,
            ),
            "danger",
        )
    return back


def _initial(channel) -> dict:
    if channel is None:
        return {"kind": "wecom", "locale": "zh_Hans", "active": True}
    return {
        "kind": channel.kind,
        "url": channel.url,
        "keyword": channel.keyword,
        "locale": channel.locale,
        "active": channel.active,
    }


def _kind_label(kind: str) -> str:
    return str(webhook_channels.KIND_LABELS.get(kind, kind))


def _event_label(event: str) -> str:
    return str(webhooks.EVENT_LABELS.get(event, event))
