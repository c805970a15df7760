"""The factory page's blank forms, each rendered once per process and kept (RowFragment).

A blank form is the same on every factory's page but for the factory's id and the session's
CSRF token: a contact, a closure, a month's figure, a task, a follow-up, a stage move. Made and
drawn on every request they cost a third of the page; kept, a page pays for a string join.
What else a form's markup depends on is its variant: the day (a date field's limits), the
choices drawn from kept definitions (crm.cache's version), the stage card's target and whether
the factory is eligible. A form the service refused is drawn from the request, with its input
and messages, never from here.
"""

from __future__ import annotations

from datetime import datetime

from flask import g
from flask_babel import gettext as _

from crm import cache, clock
from crm.forms.calendar import ClosureForm
from crm.forms.factories import STAGE_FORMS, ContactForm, SnapshotForm
from crm.models import STAGES
from crm.services.factories import factory_page
from crm.services.factories.factory_page import FactoryPage
from crm.views.kept import RowFragment
from crm.views.templating import stage_label

STAGE_CARD_FORMS = ("promote", "request")


def stage_choices() -> list[tuple[str, str]]:
    return [("", _("Keep its stage")), *((code, stage_label(code)) for code in STAGES)]


def blank_forms(
    page: FactoryPage, now: datetime, locale: str, refused: set[str]
) -> dict[str, RowFragment]:
    """The page's kept blank forms by name, but for those in `refused` (drawn from the request).

    Names: contact, closure, snapshot, schedule, task (a task added by hand), and the stage
    forms (promote, request, change)."""
    today = clock.today(now)
    version = cache.version()
    factory = page.factory
    blank: dict[str, RowFragment] = {}

    def keep(name: str, template: str, context, variant: tuple = ()) -> None:
        if name not in refused:
            blank[name] = RowFragment(template, "factory", context, variant)

    keep(
        "contact",
        "factories/_contact_form.html",
        lambda: {"contact_form": ContactForm(formdata=None, prefix="contact")},
    )
    keep(
        "closure",
        "factories/_closure_form.html",
        lambda: {"closure_form": ClosureForm(formdata=None, prefix="closure")},
    )
    keep("schedule", "followups/_schedule_blank.html", lambda: {"today": today}, (today,))
    if factory.stage and not _task_added_refused():
        keep("task", "tasks/_add.html", dict)
    if page.can_enter_figures:
        metric = page.figures[0].metric.code if page.figures else None
        month = factory_page.default_month(now)

        def snapshot() -> dict:
            form = SnapshotForm(
                formdata=None,
                metric_choices=factory_page.metric_choices(locale, page.metrics),
                metric=metric,
                month=month,
            )
            return {"snapshot_form": form}

        keep("snapshot", "factories/_snapshot_form.html", snapshot, (today, metric, version))
    sign = factory.status == "prospect"
    for prefix in (*STAGE_CARD_FORMS, "change"):
        template = "factories/_change_form.html" if prefix == "change" else None
        variant: tuple = (prefix, version)
        if template is None:
            template = "factories/_stage_form.html"
            variant += (sign, page.eligibility.eligible, page.next_stage)
        keep(prefix, template, _stage_context(prefix, page, sign), variant)
    return blank


def _stage_context(prefix: str, page: FactoryPage, sign: bool):
    def context() -> dict:
        form = STAGE_FORMS[prefix](formdata=None, prefix=prefix, stage_choices=stage_choices())
        return {
            "stage_forms": {prefix: form},
            "prefix": prefix,
            "sign": sign,
            "page": {
                "next_stage": page.next_stage,
                "eligibility": {"eligible": page.eligibility.eligible},
            },
        }

    return context


def _task_added_refused() -> bool:
    refusal = g.get("task_refusal")
    return refusal is not None and refusal.task_id is None
