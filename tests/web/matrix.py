"""The world of the scope matrix: eight positions around factory A, and what each may see.

The generated tests (tests/web/test_scope_matrix.py, tests/web/test_hostile_input.py) send
every route to every position; the expected answers come from one table (DESIGN.md "Scope").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from crm.models import PasswordReset, StageChange, StageDefinition, UserSession
from crm.services.accounts import api_tokens, auth
from crm.services.portal import invitations
from tests import builders

POSITIONS = (
    "anonymous",
    "factory_user",  # the factory user of factory A
    "factory_other",  # the factory user of factory B: nothing of A exists for it
    "rep_owner",  # the rep who owns A
    "rep_other",  # a rep of the same team who does not own A
    "manager_a",  # the manager of A's belt
    "manager_other",  # the manager of another team's belts
    "admin",
)
ROLE_OF = {
    "anonymous": "anonymous",
    "factory_user": "factory",
    "factory_other": "factory",
    "rep_owner": "rep",
    "rep_other": "rep",
    "manager_a": "manager",
    "manager_other": "manager",
    "admin": "admin",
}
# The positions that have factory A (and every record under it) in scope.
SEES_A = {"factory_user", "rep_owner", "manager_a", "admin"}

OK, LOGIN, FORBIDDEN, NOT_FOUND = "ok", "login", "403", "404"

# What each permission answers to each role, before record scope is applied.
ANSWERS: dict[str, dict[str, str]] = {
    "public": dict.fromkeys(("anonymous", "factory", "rep", "manager", "admin"), OK),
    "signed_in": {"anonymous": LOGIN, "factory": OK, "rep": OK, "manager": OK, "admin": OK},
    "staff": {"anonymous": LOGIN, "factory": NOT_FOUND, "rep": OK, "manager": OK, "admin": OK},
    "rep": {
        "anonymous": LOGIN,
        "factory": NOT_FOUND,
        "rep": OK,
        "manager": FORBIDDEN,
        "admin": FORBIDDEN,
    },
    "manage": {
        "anonymous": LOGIN,
        "factory": NOT_FOUND,
        "rep": FORBIDDEN,
        "manager": OK,
        "admin": OK,
    },
    "admin": {
        "anonymous": LOGIN,
        "factory": NOT_FOUND,
        "rep": FORBIDDEN,
        "manager": FORBIDDEN,
        "admin": OK,
    },
    "factory": {
        "anonymous": LOGIN,
        "factory": OK,
        "rep": FORBIDDEN,
        "manager": FORBIDDEN,
        "admin": FORBIDDEN,
    },
}

# URL arguments that name no record under factory A (a static file, the stage catalogue, an
# invitation link that anyone holding it may open, a device session: ending another user's
# ends nothing and answers alike):
# factory A's scope does not decide their answer; every other argument is bound to it.
# An API token id is the same: revoking another user's token revokes nothing and answers alike.
UNBOUND_ARGUMENTS = frozenset(
    {"filename", "stage_id", "template_id", "token", "session_id", "token_id"}
)


@dataclass
class World:
    users: dict
    values: dict  # URL argument name -> a value: factory A, a record under it, or a catalogue row


def build_world(db_session) -> World:
    team_a, team_b = builders.team(), builders.team()
    belt_a, belt_b = builders.belt(team_a), builders.belt(team_b)
    rep_owner = builders.user("rep", team_=team_a)
    rep_other = builders.user("rep", team_=team_a)
    factory_a = builders.factory(belt_a, owner=rep_owner, stage="junior")
    factory_b = builders.factory(belt_b, owner=builders.user("rep", team_=team_b))
    users = {
        "anonymous": None,
        "factory_user": builders.user("factory", factory=factory_a),
        "factory_other": builders.user("factory", factory=factory_b),
        "rep_owner": rep_owner,
        "rep_other": rep_other,
        "manager_a": builders.user("manager", leads=[team_a]),
        "manager_other": builders.user("manager", leads=[team_b]),
        "admin": builders.user("admin"),
    }
    db_session.commit()
    change = StageChange(
        factory_id=factory_a.id,
        from_status="active",
        from_stage="junior",
        to_status="active",
        to_stage="senior",
        requested_by_id=rep_owner.id,
    )
    db_session.add(change)
    db_session.commit()
    task = builders.task(factory_a)
    follow_up = builders.follow_up(factory_a, rep_owner, datetime.now(UTC) + timedelta(days=2))
    visit = builders.visit(factory_a, rep_owner)
    photo = builders.visit_photo(visit)
    builders.visit_voice_note(visit)  # so that /visits/<id>/voice answers in scope
    task.evidence_file = photo.stored_name  # the factory's evidence photo, served by scope
    contact = builders.contact(factory_a)
    _invitation, token = invitations.invite(users["factory_user"], datetime.now(UTC))
    # Another link for the routes that revoke one (the one above must stay open for /invite/).
    revocable, _token = invitations.invite(users["factory_user"], datetime.now(UTC))
    # A password reset link under the same token, so that /reset/<token> opens as /invite/ does.
    db_session.add(
        PasswordReset(
            user_id=users["manager_other"].id,
            token_hash=hashlib.sha256(token.encode()).hexdigest(),
            expires_at=datetime.now(UTC) + timedelta(days=1),
        )
    )
    auth.start_session(rep_owner, "matrix", "127.0.0.1")
    device = db_session.scalars(
        select(UserSession).where(UserSession.user_id == rep_owner.id)
    ).first()
    db_session.commit()
    values = {
        "factory_id": factory_a.id,
        "team_id": team_a.id,  # the team of A's belt (its channel page is the admin's alone)
        "change_id": change.id,
        "task_id": task.id,
        "follow_up_id": follow_up.id,
        "visit_id": visit.id,
        "photo_id": photo.id,
        "contact_id": contact.id,
        "token": token,
        "invitation_id": revocable.id,  # factory A's invitation: its users' and the admin's
        "user_id": rep_owner.id,  # the admin's user page (deactivating A's rep needs a taker)
        "rep_id": rep_owner.id,  # A's rep's week on the team page: their manager's and the admin's
        "belt_id": belt_a.id,
        "session_id": device.id,
        "token_id": api_tokens.create(rep_owner, "matrix", None).token.id,
        "filename": "css/app.css",
    }
    junior = db_session.scalar(select(StageDefinition).where(StageDefinition.code == "junior"))
    values.update(stage_id=junior.id, template_id=junior.templates[0].id)
    # An import run of A's manager: theirs and the admin's to see, nobody else's.
    values["run_id"] = builders.import_run(users["manager_a"]).id
    db_session.commit()
    return World(users=users, values=values)


def expected(permission: str, position: str, record_bound: bool) -> str:
    answer = ANSWERS[permission][ROLE_OF[position]]
    if answer == OK and record_bound and position not in SEES_A:
        return NOT_FOUND
    return answer


def signed_in_client(app, user):
    """A client signed in through a session row of its own (no password hashing per request)."""
    if user is None:
        return app.test_client()
    auth.start_session(user, "matrix", "127.0.0.1")
    return app.test_client(user=user)
