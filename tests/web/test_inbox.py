"""The inbox through the pages: the bell's count on every page, the list (own items only),
opening and marking read, mark all, another user's item as 404, and the e-mail choices."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from crm.extensions import db
from crm.models import Notification, User
from crm.services.notices import inbox
from tests import builders
from tests.web.helpers import csrf_token, sign_in

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    team = builders.team()
    rep = builders.user("rep", team_=team)
    factory = builders.factory(builders.belt(team), owner=rep, name="Hengda Hardware")
    other = builders.user("rep", team_=team)
    factory_user = builders.user("factory", factory=factory)
    db_session.commit()
    return {"rep": rep, "other": other, "factory": factory, "factory_user": factory_user}


def note(user: User, title: str, *, factory=None, minutes_ago: int = 0, read: bool = False):
    item = Notification(
        user_id=user.id,
        kind="follow_up_overdue",
        title=title,
        body="Bring the training slides",
        factory_id=factory.id if factory else None,
        created_at=NOW - timedelta(minutes=minutes_ago),
        read_at=NOW if read else None,
    )
    db.session.add(item)
    db.session.commit()
    return item


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def post(client, path: str, data: dict | None = None):
    return client.post(path, data={"csrf_token": csrf_token(client, "/inbox/"), **(data or {})})


def test_the_bell_shows_the_unread_count_on_every_page(client, world):
    note(world["rep"], "One", factory=world["factory"])
    note(world["rep"], "Two", factory=world["factory"])
    note(world["rep"], "Old news", read=True)
    note(world["other"], "Not mine")
    sign_in(client, world["rep"].email)
    for path in ("/today", "/account/", "/inbox/"):
        page = text_of(client.get(path))
        assert 'aria-label="Inbox, 2 unread"' in page, path
        assert re.search(r'class="inbox-bell-count"[^>]*>2</span>', page), path


def test_the_bell_has_no_count_when_all_is_read(client, world):
    sign_in(client, world["rep"].email)
    page = text_of(client.get("/account/"))
    assert 'aria-label="Inbox"' in page and "inbox-bell-count" not in page


def test_the_inbox_lists_only_the_users_own_notifications_newest_first(client, world):
    note(world["rep"], "Older one", minutes_ago=30)
    note(world["rep"], "Newer one", minutes_ago=5)
    note(world["other"], "Someone else's")
    sign_in(client, world["rep"].email)
    page = text_of(client.get("/inbox/"))
    assert page.index("Newer one") < page.index("Older one")
    assert "Someone else's" not in page
    assert "Bring the training slides" in page and "Overdue" in page


def test_opening_a_notification_marks_it_read_and_leads_to_its_factory(client, world):
    item = note(world["rep"], "Overdue follow-up", factory=world["factory"])
    sign_in(client, world["rep"].email)
    response = post(client, "/inbox/read", {"notification_id": item.id, "open": "y"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/factories/{world['factory'].id}"
    db.session.refresh(item)
    assert item.read_at == NOW


def test_a_factory_user_is_led_to_their_portal(client, world):
    item = note(world["factory_user"], "Evidence accepted", factory=world["factory"])
    sign_in(client, world["factory_user"].email)
    response = post(client, "/inbox/read", {"notification_id": item.id, "open": "y"})
    assert response.headers["Location"] == "/portal/"


def test_mark_read_stays_on_the_list_it_came_from(client, world):
    item = note(world["rep"], "One")
    sign_in(client, world["rep"].email)
    response = client.post(
        "/inbox/read?show=unread",
        data={"csrf_token": csrf_token(client, "/inbox/"), "notification_id": item.id},
    )
    assert response.status_code == 303 and response.headers["Location"] == "/inbox/?show=unread"
    assert inbox.unread_count(world["rep"]) == 0


def test_another_users_notification_is_not_found_and_stays_unread(client, world):
    item = note(world["other"], "Not mine")
    sign_in(client, world["rep"].email)
    response = post(client, "/inbox/read", {"notification_id": item.id})
    assert response.status_code == 404
    db.session.refresh(item)
    assert item.read_at is None


def test_a_malformed_mark_read_is_refused_with_the_list(client, world):
    sign_in(client, world["rep"].email)
    response = post(client, "/inbox/read", {"notification_id": "abc"})
    assert response.status_code == 422
    assert "could not be marked" in text_of(response)


def test_mark_all_read_reads_only_the_users_own(client, world):
    for n in range(3):
        note(world["rep"], f"Item {n}")
    theirs = note(world["other"], "Not mine")
    sign_in(client, world["rep"].email)
    response = post(client, "/inbox/read-all")
    assert response.status_code == 303
    assert "Marked 3 notifications read." in text_of(client.get("/inbox/"))
    assert inbox.unread_count(world["rep"]) == 0
    db.session.refresh(theirs)
    assert theirs.read_at is None


def test_the_unread_tab_and_the_pages_of_one_kind(client, world):
    for n in range(inbox.PAGE_SIZE + 1):
        note(world["rep"], f"Item {n:02d}", minutes_ago=n, read=n % 2 == 1)
    sign_in(client, world["rep"].email)
    grouped = text_of(client.get("/inbox/"))
    assert "Item 02" in grouped and "Item 03" not in grouped
    assert 'href="/inbox/?kind=follow_up_overdue">See all 31: Overdue</a>' in grouped
    first = text_of(client.get("/inbox/?kind=follow_up_overdue"))
    assert "Item 00" in first and "Item 29" in first and "Item 30<" not in first
    assert 'href="/inbox/?kind=follow_up_overdue&page=2"' in first
    second = text_of(client.get("/inbox/?kind=follow_up_overdue&page=2"))
    assert "Item 30" in second and "Newer" in second
    unread = text_of(client.get("/inbox/?show=unread&kind=follow_up_overdue"))
    assert "Item 02" in unread and "Item 01<" not in unread


def test_an_empty_inbox_says_what_arrives_there(client, world):
    sign_in(client, world["rep"].email)
    page = text_of(client.get("/inbox/"))
    assert "Nothing here yet." in page and "Mark all read" not in page
    assert "Nothing unread" in text_of(client.get("/inbox/?show=unread"))


# --- e-mail choices on the account page ------------------------------------------------------


def test_a_rep_chooses_which_reminders_come_by_email(client, world):
    rep = world["rep"]
    sign_in(client, rep.email)
    page = text_of(client.get("/account/"))
    assert 'value="follow_up_overdue" checked' in page
    assert 'value="follow_up_due_soon">' in page
    assert 'value="digest"' not in page  # a rep gets no digest
    response = client.post(
        "/account/email",
        data={
            "csrf_token": csrf_token(client, "/account/"),
            "kinds": ["follow_up_due_soon", "factory_stale"],
        },
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(User, rep.id).email_kinds == ["follow_up_due_soon", "factory_stale"]
    assert "E-mail choices saved." in text_of(client.get("/account/"))


def test_an_email_choice_outside_the_list_is_refused(client, world):
    sign_in(client, world["rep"].email)
    response = client.post(
        "/account/email",
        data={"csrf_token": csrf_token(client, "/account/"), "kinds": ["digest"]},
    )
    assert response.status_code == 422
    assert db.session.scalar(select(User.email_kinds).where(User.id == world["rep"].id)) is None


def test_a_factory_user_has_no_email_reminders_to_choose(client, world):
    sign_in(client, world["factory_user"].email)
    assert "E-mail notifications" not in text_of(client.get("/account/"))


# --- grouped by kind -----------------------------------------------------------------------------


def noted(user: User, kind: str, title: str, minutes_ago: int, read: bool = False) -> None:
    db.session.add(
        Notification(
            user_id=user.id,
            kind=kind,
            title=title,
            created_at=NOW - timedelta(minutes=minutes_ago),
            read_at=NOW if read else None,
        )
    )


@pytest.fixture
def manager_inbox(world):
    manager = builders.user("manager")
    for n in range(40):
        noted(manager, "factory_stale", f"Old notice {n:02d}", 600 + n, read=n >= 5)
    noted(manager, "digest", "Weekly digest: 2026-11-16 to 2026-11-22", 300, read=True)
    noted(manager, "stage_change_requested", "Hengda Hardware: promotion requested", 30)
    noted(manager, "stage_change_requested", "Ocean Textiles: promotion requested", 20)
    noted(manager, "factory_eligible", "3 factories became ready for their next stage", 90)
    db.session.commit()
    return manager


def group_titles(page: str) -> list[str]:
    return re.findall(r'<h2 class="inbox-group-title" id="inbox-group-\w+">([^<]+)</h2>', page)


def test_a_manager_s_inbox_groups_by_kind(client, manager_inbox):
    sign_in(client, manager_inbox.email)
    page = text_of(client.get("/inbox/"))
    # Kinds with something unread first, the newest first among them; then the read ones.
    assert group_titles(page) == [
        "Decision needed",
        "Ready for next stage",
        "Not visited",
        "Weekly digest",
    ]
    stale = page[page.index('id="inbox-group-factory_stale"') :]
    stale = stale[: stale.index("</section>")]
    assert "5 unread" in stale and "40 in all" in stale
    assert stale.count('class="inbox-item') == 3  # the latest three, the rest one click away
    assert "Old notice 00" in stale and "Old notice 03" not in stale
    assert 'href="/inbox/?kind=factory_stale">See all 40: Not visited</a>' in stale
    requested = page[page.index('id="inbox-group-stage_change_requested"') :]
    assert "See all" not in requested[: requested.index("</section>")]


def test_one_kind_a_page_at_a_time_and_marking_only_it_read(client, manager_inbox):
    sign_in(client, manager_inbox.email)
    page = text_of(client.get("/inbox/?kind=factory_stale"))
    assert "Old notice 29" in page and "Ocean Textiles" not in page
    assert "Mark all of these read" in page
    response = client.post(
        "/inbox/read-all?kind=factory_stale",
        data={"csrf_token": csrf_token(client, "/inbox/")},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/inbox/?kind=factory_stale"
    assert "Marked 5 notifications read." in text_of(client.get(response.headers["Location"]))
    # The other kinds stay unread.
    assert inbox.unread_count(manager_inbox) == 3


@pytest.mark.parametrize("kind", ["nonsense", "", "factory_stale'--", "%00"])
def test_an_unknown_kind_shows_every_kind(client, manager_inbox, kind):
    sign_in(client, manager_inbox.email)
    response = client.get("/inbox/", query_string={"kind": kind})
    assert response.status_code == 200
    assert len(group_titles(text_of(response))) == 4
