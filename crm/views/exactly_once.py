"""Exactly once for a page's form posted by the phone's outbox: the key claimed with the action,
the first answer kept, a repeat answered as the first (crm.services.field.client_actions)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps

from flask import Response, flash, g, jsonify, make_response, redirect, request, session
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.form import _Auto
from werkzeug.datastructures import MultiDict

from crm import clock
from crm.errors import DomainError
from crm.extensions import db
from crm.forms.client_actions import ClientKeyForm
from crm.models import ClientAction
from crm.services.field import client_actions
from crm.views.errors import json_error, render_error
from crm.views.security import wants_json

UNSENT = ("csrf_token", "client_key")


def exactly_once(kind: str) -> Callable:
    """Wrap a form view: with a client key (the hidden field or the Idempotency-Key header) it
    happens once; without one it is the plain form post it always was."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            key = _client_key()
            if isinstance(key, Response):
                return key
            if key is None:
                return view(*args, **kwargs)
            try:
                return _once(kind, key, lambda: view(*args, **kwargs))
            except DomainError as error:
                if not wants_json():
                    raise
                db.session.rollback()
                return json_error(error.status, error.code, error.message, error.fields)

        return wrapped

    return decorate


def _once(kind: str, key: str, view: Callable) -> Response:
    sent = client_actions.fingerprint(kind, request.path, _sent_fields())
    claim = client_actions.claim(current_user, kind, key, sent, clock.now())
    if claim.earlier:
        return _replay(claim.record)
    record_id = claim.record.id
    response = make_response(view())
    record = db.session.get(ClientAction, record_id) if response.status_code < 400 else None
    if record is None:  # refused: the view rolled back, or does now, and the key stays free
        db.session.rollback()
        return _refusal(response) if wants_json() else response
    message = _last_flash(pop=False)  # shown on the page the outbox goes to next
    client_actions.keep_answer(record, response.status_code, response.location or "", message)
    db.session.commit()
    return _accepted(record) if wants_json() else response


def _client_key() -> str | Response | None:
    header = request.headers.get("Idempotency-Key", "").strip()
    form = ClientKeyForm(formdata=MultiDict({"client_key": header}) if header else _Auto)
    field = request.form.get("client_key", "")
    if header and field and header != field:
        message = _("The Idempotency-Key header and the client_key field differ.")
        return render_error(400, "key_mismatch", message, {"client_key": message})
    if not form.validate():
        message = " ".join(str(text) for text in form.client_key.errors)
        return render_error(422, "validation_error", message, {"client_key": message})
    return form.client_key.data or None


def _sent_fields() -> list[tuple[str, str]]:
    fields = [(name, value) for name, value in request.form.items(multi=True) if name not in UNSENT]
    for name, upload in request.files.items(multi=True):
        fields.append((name, hashlib.sha256(upload.stream.read()).hexdigest()))
        upload.stream.seek(0)
    if request.is_json:
        fields.append(("json", hashlib.sha256(request.get_data()).hexdigest()))
    return fields


def _last_flash(pop: bool) -> str:
    flashes = session.get("_flashes") or []
    if not flashes:
        return ""
    if pop:
        session["_flashes"] = flashes[:-1]
    return str(flashes[-1][1])


def _accepted(record: ClientAction, repeat: bool = False) -> Response:
    return jsonify(
        {
            "ok": True,
            "kind": record.kind,
            "client_key": record.client_key,
            "location": record.location,
            "message": record.message,
            "repeat": repeat,
        }
    )


def _replay(record: ClientAction) -> Response:
    """The first answer again: to the outbox its JSON, to a browser the same way back."""
    if wants_json():
        return _accepted(record, repeat=True)
    if record.message:
        flash(record.message, "success")
    return redirect(record.location or request.path, code=303)


def _refusal(response: Response) -> Response:
    """A refused action as the outbox reads it: the message by each field of the forms checked."""
    if response.is_json:
        return response
    fields: dict[str, str] = {}
    general: list[str] = []
    for form in g.get("checked_forms", []):
        if isinstance(form, ClientKeyForm):
            continue
        general.extend(str(text) for text in form.form_errors)
        for field in form:
            if field.errors:
                fields[field.name] = " ".join(str(text) for text in field.errors)
    warning = _last_flash(pop=True) if response.status_code < 400 else ""
    message = " ".join([*general, *fields.values()]) or warning or _("Please correct the form")
    status = response.status_code if response.status_code >= 400 else 409
    code = "validation_error" if status == 422 else "conflict" if status == 409 else "refused"
    return json_error(status, code, message, fields)
