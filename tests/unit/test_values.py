"""crm.values: what an id, a whole number, a date, an instant and a text accept at the edge."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from crm import values


@pytest.fixture(autouse=True)
def in_a_request(app):
    with app.test_request_context():
        yield


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), ("42", 42), ("2147483647", 2**31 - 1)])
def test_an_id_is_ascii_digits_within_the_column(raw, expected):
    assert values.read_id(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "0", "-1", "2147483648", "99999999999999999999", "²", "٣", "1.0", " 1", None, True]
)
def test_anything_else_is_not_an_id(raw):
    with pytest.raises(ValueError):
        values.read_id(raw)
    assert values.id_or_none(raw) is None


def test_ids_of_a_list_keep_the_ids_only():
    assert values.ids_of(["3", "²", "99999999999999999999", "4"]) == [3, 4]


def test_a_whole_number_is_ascii_digits_within_its_range():
    assert values.read_whole("7", 1, 10) == 7
    assert values.read_whole("-3", -5, 5) == -3
    for raw in ("11", "0", "²", "-3", "1e3", "9" * 40):
        with pytest.raises(ValueError):
            values.read_whole(raw, 1, 10)
    assert values.page_number("99999999999999999999") == 1
    assert values.page_number("3") == 3


def test_a_date_lies_in_the_years_the_app_counts_with():
    assert values.read_date("2026-11-25") == date(2026, 11, 25)
    for raw in ("9999-12-31", "0001-01-01", "1899-12-31", "2026-02-30", "²026-01-01"):
        with pytest.raises(ValueError):
            values.read_date(raw)
    with pytest.raises(ValueError):
        values.read_date("2026-11-25", high=date(2026, 11, 24))


def test_an_instant_has_a_real_offset_and_a_year_in_range():
    assert values.read_instant("2026-11-25T01:00:00Z") == datetime(2026, 11, 25, 1, tzinfo=UTC)
    for raw in (
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+14:00",
        "2026-11-25T09:30:00",
        "2026-11-25T09:30:00+15:00",
        "tomorrow",
    ):
        with pytest.raises(ValueError):
            values.read_instant(raw)


def test_text_holds_no_nul_surrogate_or_control_character():
    assert values.read_text("line one\nline two\tend") == "line one\nline two\tend"
    for raw in ("a\x00b", "a\ud800b", "a\x1bb"):
        with pytest.raises(ValueError):
            values.read_text(raw)
    with pytest.raises(ValueError):
        values.read_text("/today\r\nX: 1", newlines=False)
    assert values.text_problem("one line", newlines=False) is None
