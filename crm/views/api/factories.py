"""API: factories in scope: the list page's filters, one factory, create and update."""

from __future__ import annotations

from flask import url_for
from flask_babel import gettext as _

from crm import clock, scope
from crm.errors import Invalid, NotAllowed
from crm.extensions import db
from crm.services.factories import edits as factories
from crm.services.factories import factory_list, list_filters
from crm.views.api import actor, answer, bp, read_body, read_query
from crm.views.api.as_json import duplicate_json, factory_json, factory_list_json
from crm.views.api.shapes import parse_body
from crm.views.api.spec import bodies


@bp.route("/factories")
@scope.allow("staff")
def list_factories():
    query = read_query()
    if not list_filters.may_narrow_to_owner(actor(), query.get("owner", "")):
        message = _('Only managers and admins narrow the list to a rep; send "mine" or "unowned".')
        raise NotAllowed(message, fields={"owner": message})
    if "updated_since" in query and "page" in query:
        message = _("Pages by number follow the names; with updated_since, send next_after.")
        raise Invalid(message, fields={"page": message})
    filters = list_filters.Filters(
        search=query.get("q", "").strip(),
        stage=query.get("stage", ""),
        status=query.get("status", ""),
        flag=query.get("flag", ""),
        owner=query.get("owner", ""),
        page=query.get("page", 1),
        after=query.get("after"),
        updated_since=query.get("updated_since"),
    )
    listing = factory_list.list_factories(actor(), filters, clock.now(), records=True)
    return answer(factory_list_json(listing))


@bp.route("/factories", methods=["POST"])
@scope.allow("staff")
def create_factory():
    values = parse_body(bodies.FACTORY_CREATE, read_body())
    factory = factories.create_factory(actor(), values, clock.now())
    found = factories.duplicates_of(actor(), factory, clock.now())
    db.session.commit()
    body = {**factory_json(factory), "duplicates": [duplicate_json(d) for d in found]}
    return answer(body, 201, url_for("api.get_factory", factory_id=factory.id))


@bp.route("/factories/<int:factory_id>")
@scope.allow("staff")
def get_factory(factory_id: int):
    return answer(factory_json(scope.get_factory(actor(), factory_id, clock.today())))


@bp.route("/factories/<int:factory_id>", methods=["PATCH"])
@scope.allow("staff")
def update_factory(factory_id: int):
    factory = scope.get_factory(actor(), factory_id, clock.today())
    values = parse_body(bodies.FACTORY_UPDATE, read_body())
    factories.update_factory(actor(), factory, values, clock.now())
    db.session.commit()
    return answer(factory_json(factory))
