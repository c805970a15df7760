"""The `flask crm` commands: init (idempotent) and create-user (with its refusals)."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.models import Metric, StageDefinition, TaskTemplate, User
from tests import builders


def count(db_session, model) -> int:
    return db_session.scalar(select(func.count()).select_from(model))


def test_init_installs_the_defaults_once(app, db_session):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["crm", "init"])
    second = runner.invoke(args=["crm", "init"])
    assert first.exit_code == second.exit_code == 0
    assert "0 metrics, 0 stages, 0 task templates added" in second.output
    assert count(db_session, Metric) == 10
    assert count(db_session, StageDefinition) == 5  # prospect and the four stages
    assert count(db_session, TaskTemplate) == 23
    cadences = dict(
        db_session.execute(select(StageDefinition.code, StageDefinition.cadence_days)).all()
    )
    assert cadences == {
        "prospect": 14,
        "elementary": 7,
        "junior": 14,
        "senior": 21,
        "university": 30,
    }


def test_create_user_puts_a_rep_in_the_team_of_the_belts(app, db_session):
    team = builders.team()
    belt = builders.belt(team, code="yongkang-hardware")
    db_session.commit()
    result = app.test_cli_runner().invoke(
        args=[
            "crm",
            "create-user",
            "--role",
            "rep",
            "--login",
            "Wang.Lei@Example.test",
            "--name",
            "王磊",
            "--password",
            "long-enough-secret",
            "--belts",
            belt.code,
        ]
    )
    assert result.exit_code == 0, result.output
    user = db_session.scalar(select(User).where(User.email == "wang.lei@example.test"))
    assert user.team_id == team.id and user.role == "rep"


def test_create_user_makes_a_manager_lead_the_teams_of_the_belts(app, db_session):
    team_a, team_b = builders.team(), builders.team()
    belt_a, belt_b = builders.belt(team_a), builders.belt(team_b)
    db_session.commit()
    result = app.test_cli_runner().invoke(
        args=[
            "crm",
            "create-user",
            "--role",
            "manager",
            "--login",
            "13900001111",
            "--name",
            "Zhou",
            "--password",
            "long-enough-secret",
            "--belts",
            f"{belt_a.code},{belt_b.code}",
        ]
    )
    assert result.exit_code == 0, result.output
    user = db_session.scalar(select(User).where(User.phone == "13900001111"))
    assert {team.id for team in user.led_teams} == {team_a.id, team_b.id}


def test_create_user_refuses_bad_input_by_field_and_creates_nothing(app, db_session):
    before = count(db_session, User)
    result = app.test_cli_runner().invoke(
        args=[
            "crm",
            "create-user",
            "--role",
            "factory",
            "--login",
            "not-an-email@",
            "--name",
            "",
            "--password",
            "password123",
            "--belts",
            "nowhere",
        ]
    )
    assert result.exit_code == 2
    for words in ("name:", "login:", "password:", "factory:", "belts:"):
        assert words in result.output
    assert count(db_session, User) == before


def test_create_user_refuses_a_taken_login(app, db_session):
    builders.user("admin", email="taken@example.test")
    db_session.commit()
    result = app.test_cli_runner().invoke(
        args=[
            "crm",
            "create-user",
            "--role",
            "admin",
            "--login",
            "taken@example.test",
            "--name",
            "X",
            "--password",
            "long-enough-secret",
        ]
    )
    assert result.exit_code == 2 and "This login is taken." in result.output


def test_init_does_not_add_back_an_item_an_admin_renamed(app, db_session):
    item = db_session.scalar(select(TaskTemplate).where(TaskTemplate.title_en == "Shop opened"))
    item.title_en = "Shop opened and decorated"
    db_session.commit()
    result = app.test_cli_runner().invoke(args=["crm", "init"])
    assert "0 task templates added" in result.output
    assert count(db_session, TaskTemplate) == 23
