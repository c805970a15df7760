from tests import builders
from tests.web.helpers import sign_in


def test_rep_signs_in_and_lands_on_today(client, db_session):
    rep = builders.user("rep", team_=builders.team())
    db_session.commit()
    response = sign_in(client, rep.email)
    assert response.status_code == 303
    assert response.headers["Location"] == "/today"
    page = client.get("/today")
    assert page.status_code == 200
    assert "Today" in page.get_data(as_text=True)
