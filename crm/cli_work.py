"""`flask crm run-work`: do the pending work requests once, then stop (tests, operators)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from crm.cli import crm_group


@crm_group.command("run-work")
@with_appcontext
def run_work_command() -> None:
    """Do every pending work request (imports; "run now" only when no scheduler leads)."""
    from crm import clock
    from crm.extensions import db
    from crm.jobs import scheduler
    from crm.models import WorkRequest

    runner = scheduler.Runner(current_app._get_current_object())
    # Holding the lease lets this runner take "run now" too; a leading scheduler keeps them.
    lease = runner.current_lease()
    leads = lease.hold(clock.now())
    done = []
    try:
        while (request_id := runner.work_once()) is not None:
            done.append(request_id)
    finally:
        if leads:
            runner.stop()
    for request_id in done:
        request = db.session.get(WorkRequest, request_id)
        line = f"{request.id} {request.kind}: {request.status}"
        click.echo(line if request.status == "done" else f"{line}: {request.error}")
    if not done:
        click.echo("no work waiting")
    if any(db.session.get(WorkRequest, i).status == "failed" for i in done):
        raise SystemExit(1)
