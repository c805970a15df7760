"""The admin's calendar: a year's days off and make-up working days, added, removed, or loaded
from China's published holidays (crm.services.calendar.holidays)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from flask_login import current_user

from crm import clock, scope
from crm.errors import Conflict, Invalid
from crm.extensions import db
from crm.forms.calendar import CalendarDayForm, RemoveDayForm, SeedYearForm
from crm.services.calendar import holidays
from crm.values import whole_or
from crm.views.admin import bp
from crm.views.errors import save_form


def _page(year: int, form: CalendarDayForm | None = None, alert: str | None = None, status=200):
    today = clock.today()
    return (
        render_template(
            "admin/calendar.html",
            calendar=holidays.year(year),
            form=form or CalendarDayForm(formdata=None),
            remove_form=RemoveDayForm(formdata=None),
            seed_form=SeedYearForm(formdata=None, year=year),
            years=range(max(holidays.FIRST_YEAR, today.year - 1), today.year + 3),
            alert=alert,
            label=holidays.label,
            weekday_name=lambda day: format_date(day, "EEEE"),
        ),
        status,
    )


def _year() -> int:
    today = clock.today()
    year = whole_or(request.args.get("year"), today.year, holidays.FIRST_YEAR, 9999)
    try:
        return holidays.check_year(year, today)
    except Invalid:
        return today.year


@bp.route("/calendar")
@scope.allow("admin")
def calendar():
    return _page(_year())


@bp.route("/calendar/days", methods=["POST"])
@scope.allow("admin")
def add_calendar_day():
    form = CalendarDayForm()
    year = form.day.data.year if form.day.data else _year()
    saved = form.validate_on_submit() and save_form(
        form,
        lambda: holidays.add_day(
            current_user, form.day.data, form.kind.data, form.name.data or "", clock.today()
        ),
    )
    if not saved:
        return _page(_year() if form.day.errors else year, form=form, status=422)
    flash(_("Added %(day)s to the calendar.", day=saved.day.isoformat()), "success")
    return redirect(url_for("admin.calendar", year=saved.day.year), code=303)


@bp.route("/calendar/remove", methods=["POST"])
@scope.allow("admin")
def remove_calendar_day():
    form = RemoveDayForm()
    if not form.validate_on_submit():
        message = " ".join(map(str, form.day.errors)) or _("The form expired; send it again.")
        return _page(_year(), alert=message, status=422)
    try:
        removed = holidays.remove_day(current_user, form.day.data)
    except Conflict as error:
        db.session.rollback()
        return _page(form.day.data.year, alert=error.message, status=409)
    db.session.commit()
    flash(_("Removed %(day)s from the calendar.", day=removed.day.isoformat()), "success")
    return redirect(url_for("admin.calendar", year=removed.day.year), code=303)


@bp.route("/calendar/load", methods=["POST"])
@scope.allow("admin")
def load_calendar_year():
    form = SeedYearForm()
    try:
        if not form.validate_on_submit():
            raise Invalid(
                " ".join(map(str, form.year.errors)) or _("The form expired; send it again.")
            )
        year = holidays.check_year(form.year.data, clock.today())
    except Invalid as error:
        return _page(_year(), alert=error.message, status=422)
    added = holidays.seed_year(current_user, year)
    db.session.commit()
    if added:
        flash(ngettext("%(num)d day added.", "%(num)d days added.", added), "success")
    else:
        flash(_("Nothing to add: every published day is in the calendar."), "success")
    return redirect(url_for("admin.calendar", year=year), code=303)
