"""API: the OpenAPI document and the same document as a page for people."""

from __future__ import annotations

from flask import jsonify, render_template

from crm import scope
from crm.views.api import bp
from crm.views.api import spec as api_spec

WHO = {
    "public": "anyone",
    "signed_in": "every signed-in role",
    "staff": "reps, managers, admins",
    "manage": "managers, admins",
    "factory": "factory users",
}


@bp.route("/openapi.json")
@scope.allow("public")
def openapi():
    response = jsonify(api_spec.build())
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/docs")
@scope.allow("public")
def docs():
    document = api_spec.build()
    sections: dict[str, list[dict]] = {}
    for operation in api_spec.OPERATIONS:
        described = document["paths"][operation.path][operation.method]
        body = None
        if operation.body is not None:
            body = document["components"]["schemas"][operation.body.name]
        sections.setdefault(operation.tag, []).append(
            {
                "operation": operation,
                "anchor": described["operationId"],
                "who": WHO[operation.permission],
                "parameters": described.get("parameters", []),
                "body": body,
                "responses": described["responses"],
            }
        )
    return render_template(
        "api/docs.html", document=document, sections=sections, errors=api_spec.ERROR_TEXT
    )
