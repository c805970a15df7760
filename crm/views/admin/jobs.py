"""The admin's jobs page: each job's last runs and next run, the scheduler's health, "run now".

"Run now" queues a work request that the scheduler process picks up within seconds (DESIGN.md
"Long work"): a sweep over 100,000 factories does not fit in a web request, and only the
scheduler's leader may run jobs, so that a run never races the scheduled one.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import clock, scope
from crm.extensions import db
from crm.forms.channels import SendAgainForm
from crm.forms.inbox import RunJobForm
from crm.jobs import JOBS, scheduler
from crm.models import WorkRequest
from crm.services.install import work
from crm.services.notices import mail, webhooks
from crm.views.admin import bp


@bp.before_app_request
def _start_scheduler_in_dev_server() -> None:
    # `make run`: the development server's serving process runs the scheduler (never gunicorn).
    scheduler.start_in_dev_server(current_app._get_current_object(), request.environ)


def count_label(name: str) -> str:
    return {
        "follow_up_due_soon": _("Due-soon reminders"),
        "follow_up_overdue": _("Overdue reminders"),
        "follow_ups_created": _("Follow-ups created"),
        "stale_notified": _("Stale factories notified"),
        "eligible_notified": _("Eligibility notices"),
        "eligible_found": _("Newly eligible factories"),
        "eligible_summaries": _("Eligibility summaries"),
        "eligibility_lost": _("No longer eligible"),
        "digests": _("Digests"),
        "team_webhooks": _("Team group messages queued"),
        "positions_coarsened": _("Check-in positions coarsened"),
        "photos_deleted": _("Visit photos deleted"),
        "voice_notes_deleted": _("Voice notes deleted"),
        "login_attempts_deleted": _("Failed sign-ins deleted"),
        "sessions_deleted": _("Sign-in sessions deleted"),
        "deliveries_deleted": _("E-mail deliveries deleted"),
        "webhook_deliveries_deleted": _("Team group messages deleted"),
        "audit_entries_deleted": _("Audit entries deleted"),
        "route_starts_forgotten": _("Route starts forgotten"),
    }.get(name, name)


def work_label(request: WorkRequest) -> str:
    """What a work request was doing, in words for the jobs page."""
    if request.kind == "run_job":
        job = JOBS.get(request.arguments.get("job", ""))
        return _("Run now: %(job)s", job=job.title if job else request.arguments.get("job", ""))
    return {
        "import_check": _("Checking an import"),
        "import_apply": _("Applying an import"),
    }.get(request.kind, request.kind)


def _page(status: int = 200):
    now = clock.now()
    return (
        render_template(
            "admin/jobs.html",
            overview=scheduler.overview(now),
            now=now,
            form=RunJobForm(formdata=None),
            count_label=count_label,
            work_label=work_label,
            stuck_after=work.STUCK_AFTER,
            stale_after=work.STALE_AFTER,
            webhooks=webhooks.overview(),
            failed_mail=mail.overview(),
            event_label=lambda event: str(webhooks.EVENT_LABELS.get(event, event)),
        ),
        status,
    )


@bp.route("/jobs")
@scope.allow("admin")
def jobs():
    return _page()


@bp.route("/jobs/run", methods=["POST"])
@scope.allow("admin")
def run_job():
    form = RunJobForm()
    if not form.validate_on_submit() or form.job.data not in JOBS:
        flash(_("Choose one of the jobs listed."), "danger")
        return _page(status=422)
    job = JOBS[form.job.data]
    scheduler.request_run(current_user.id, job.name, clock.now())
    db.session.commit()
    flash(
        _("%(job)s will run within seconds: the scheduler process picks it up.", job=job.title),
        "success",
    )
    return redirect(url_for("admin.jobs"), code=303)


@bp.route("/jobs/webhooks/send-again", methods=["POST"])
@scope.allow("admin")
def send_webhook_again():
    """A failed team message goes back in the queue; the scheduler sends it within seconds."""
    form = SendAgainForm()
    delivery_id = form.delivery() if form.validate_on_submit() else None
    if delivery_id is None:
        flash(_("Choose one of the failed messages listed."), "danger")
        return _page(status=422)
    webhooks.send_again(current_user, delivery_id, clock.now())
    db.session.commit()
    flash(_("The message will be sent again within seconds."), "success")
    return redirect(url_for("admin.jobs", _anchor="webhooks"), code=303)


@bp.route("/jobs/mail/send-again", methods=["POST"])
@scope.allow("admin")
def send_mail_again():
    """A failed e-mail goes back in the queue, to its reader's address as it is now."""
    form = SendAgainForm()
    delivery_id = form.delivery() if form.validate_on_submit() else None
    if delivery_id is None:
        flash(_("Choose one of the failed e-mails listed."), "danger")
        return _page(status=422)
    mail.send_again(current_user, delivery_id)
    db.session.commit()
    flash(_("The e-mail will be sent again within seconds."), "success")
    return redirect(url_for("admin.jobs", _anchor="mail"), code=303)
