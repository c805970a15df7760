"""What every template calls: its strings from the request's catalogue, looked up once while the
request's language holds, with Jinja's own rules for escaping and `%`."""

from __future__ import annotations

from flask import url_for
from flask_babel import Domain, force_locale, gettext

from crm.views.templating import CHROME

TEMPLATE = "{{ _('Sign out') }}|{{ _('%(name)s holds:', name='<b>') }}|{{ _('100%%') }}"


def test_a_templates_strings_follow_the_language_of_the_moment(app, monkeypatch):
    looked_up = []
    catalogue = Domain.get_translations

    def counted(domain):
        looked_up.append(domain)
        return catalogue(domain)

    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        sign_out, holds = gettext("Sign out"), gettext("%(name)s holds:", name="&lt;b&gt;")
        template = app.jinja_env.from_string(TEMPLATE)
        monkeypatch.setattr(Domain, "get_translations", counted)
        chinese = template.render()
        assert len(looked_up) == 1  # three strings, one lookup of the catalogue
        with force_locale("en"):
            english = template.render()
        again = template.render()

    assert chinese == again == f"{sign_out}|{holds}|100%"
    assert sign_out != "Sign out"
    assert english == "Sign out|&lt;b&gt; holds:|100%"


def test_plural_strings_take_the_count_and_escape_as_jinjas_own(app):
    with app.app_context(), app.test_request_context("/"):
        template = app.jinja_env.from_string(
            "{{ ngettext('%(num)d attempt', '%(num)d attempts', n) }}"
        )
        assert [template.render(n=n) for n in (1, 3)] == ["1 attempt", "3 attempts"]
        text = app.jinja_env.from_string("{{ _('%(name)s holds:', name=who) }}")
        assert text.render(who="<i>") == "&lt;i&gt; holds:"


def test_the_links_every_page_draws_are_built_once_a_process_and_under_its_own_root(
    app, client, db_session, monkeypatch
):
    """A page's menu and static files are built once (issue 25); each under the root the app is
    served at (behind a proxy at /crm/), and a static file under its hashed name."""
    from werkzeug.routing import MapAdapter

    from tests import builders
    from tests.web.helpers import sign_in

    rep = builders.user("rep", team_=builders.team())
    db_session.commit()
    sign_in(client, rep.email)
    first = client.get("/offline").get_data(as_text=True)
    built: list[str] = []
    original = MapAdapter.build

    def counted(self, endpoint, *args, **kwargs):
        built.append(endpoint)
        return original(self, endpoint, *args, **kwargs)

    monkeypatch.setattr(MapAdapter, "build", counted)
    again = client.get("/offline").get_data(as_text=True)
    assert "static" not in built and "auth.index" not in built and "inbox.index" not in built
    assert again.count("/static/") == first.count("/static/") > 0
    with app.test_request_context("/"):
        css = url_for("static", filename="css/app.css")
    assert f'href="{css}"' in again
    under_root = client.get(
        "/crm/offline", environ_overrides={"SCRIPT_NAME": "/crm", "PATH_INFO": "/offline"}
    )
    text = under_root.get_data(as_text=True)
    assert f'href="/crm{css}"' in text and 'href="/crm/inbox/"' in text
    assert f'href="{css}"' in client.get("/offline").get_data(as_text=True)


def test_the_frame_is_rendered_once_a_process_for_the_role_page_and_language(app, db_session):
    """The menus and the phone's status notes of every signed-in page are kept per process
    (crm.views.templating.chrome): rendered again for another page (its link marked current),
    another role and another language, and never for a second request of the same."""
    from flask import template_rendered

    from tests import builders
    from tests.web.helpers import sign_in

    team = builders.team()
    rep = builders.user("rep", team_=team)
    manager = builders.user("manager", leads=[team])
    db_session.commit()
    rendered: list[str] = []

    def record(_sender, template, **_extra) -> None:
        rendered.append(template.name)

    app.extensions.pop("crm_parts", None)  # another test may have kept them in this worker
    reps, managers = app.test_client(), app.test_client()
    sign_in(reps, rep.email)
    sign_in(managers, manager.email)
    template_rendered.connect(record, app)
    try:
        today = reps.get("/today").get_data(as_text=True)
        reps.get("/today")
        assert [rendered.count(f"_chrome/{part}.html") for part in CHROME] == [1, 1, 1]
        mine = reps.get("/factories/").get_data(as_text=True)
        assert [rendered.count(f"_chrome/{part}.html") for part in CHROME] == [2, 2, 1]
        board = managers.get("/pipeline/board").get_data(as_text=True)
        chinese = reps.get("/today", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
        assert [rendered.count(f"_chrome/{part}.html") for part in CHROME] == [4, 4, 2]
    finally:
        template_rendered.disconnect(record, app)
    assert '<a href="/today" aria-current="page">Today</a>' in today
    assert '<a href="/factories/" aria-current="page">' in mine
    assert '<a href="/today" aria-current="page">' not in mine
    assert 'href="/imports/"' in board and 'href="/imports/"' not in today
    assert 'aria-current="page">今天</a>' in chinese
