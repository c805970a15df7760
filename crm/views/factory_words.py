"""The factory pages' words and helpers: what the list's rows and the factory page repeat,
looked up once (crm.views.kept.words_once), and months and days ago in the reader's language."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import format_timedelta
from flask_babel import gettext as _

from crm.services.growth import eligibility
from crm.views.kept import words_once
from crm.views.templating import ReaderDays, format_month


def helpers() -> dict:
    """What this blueprint's templates add to the app's helpers: months and figures in words."""
    return {
        "format_month": format_month,
        "format_figure": eligibility.format_value,
        "format_ago": format_ago,
        "factory_row_words": factory_row_words,
    }


def factory_row_words() -> dict[str, str]:
    """The words that every row of the factory list repeats, translated once per request; the
    ones with "%(...)s" left in take each row's numbers in the template."""
    return words_once("factory_rows", _factory_row_words)


def _factory_row_words() -> dict[str, str]:
    return {
        "factory": _("Factory"),
        "checklist": _("Checklist"),
        "last_visit": _("Last visit"),
        "next_follow_up": _("Next follow-up"),
        "overdue": _("Overdue"),
        "stale": _("Stale"),
        "eligible": _("Ready to promote"),
        "no_rep": _("No rep yet"),
        "required": _("%(done)d of %(total)d required"),
        "progress": _("Checklist progress"),
        "starts": _("Starts at stage 1"),
        "no_required": _("No required items"),
        "never": _("Never"),
        "none_planned": _("None planned"),
        "claim": _("Claim"),
    }


def factory_page_words() -> dict[str, str]:
    """The words that the factory page's checklist, figures and history repeat per row (and
    that the visit form and the settings page share: factories/_labels.html), translated once
    per request; those with "%(...)s" left in take each row's values in the template."""
    return words_once("factory_page", _factory_page_words)


def _factory_page_words() -> dict[str, str]:
    return {
        "purpose_first_contact": _("First contact"),
        "purpose_assessment": _("Assessment"),
        "purpose_training": _("Training"),
        "purpose_video_shoot": _("Video shoot"),
        "purpose_follow_up": _("Follow-up"),
        "purpose_promotion_review": _("Promotion review"),
        "purpose_other": _("Other"),
        "pending": _("Waiting for a decision"),
        "approved": _("Approved"),
        "refused": _("Refused"),
        "direct": _("Changed directly"),
        "at_most": _("target at most %(target)s"),
        "at_least": _("target at least %(target)s"),
        "over": _("%(gap)s over"),
        "short": _("%(gap)s short"),
        "met": _("Met"),
        "not_met": _("Not met"),
        "too_old": _("Figures too old"),
        "no_data": _("No data"),
        "no_figures": _("No figures yet"),
        "figures_too_old": _("Figures from %(month)s are too old"),
        "override": _("Override"),
        "asked_by": _("asked by %(name)s"),
        "decided_by": _("decided by %(name)s"),
        "why": _("Why: %(reason)s"),
        "decision": _("Decision: %(note)s"),
        "visit": _("Visit: %(purpose)s"),
        "off_site": _("Off-site"),
    }


def _ago_words() -> dict[str, str]:
    return {"today": _("Today"), "yesterday": _("Yesterday")}


def format_ago(instant: datetime) -> str:
    """ "Today", "Yesterday", "3 days ago", "2 months ago": how long since, in local days.

    Worded once per number of days in a request: a list's rows share a few of them."""
    reader = ReaderDays.now()
    days = reader.days_since(instant)
    if days <= 1:
        return words_once("ago", _ago_words)["today" if days <= 0 else "yesterday"]
    key = (reader.today - timedelta(days=days), "ago")
    found = reader.texts.get(key)
    if found is None:
        found = reader.texts[key] = format_timedelta(
            timedelta(days=-days), granularity="day", add_direction=True
        )
    return found
