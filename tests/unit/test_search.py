"""The search's rule (issue 27, point 1): what a query finds by name, pinyin, initials, address,
credit code, contact and phone; the keys kept on every write; the query plans on an index."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select, text

from crm import scope
from crm.demo import factories as demo
from crm.errors import Invalid
from crm.extensions import db
from crm.models import Contact, Factory
from crm.services.factories import edits, search, search_keys
from crm.services.imports import import_factories
from tests import builders

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
TODAY = NOW.date()

HONGXIANG = "永康宏翔门业有限公司"
CHANGCHENG = "长城重行五金厂"  # 长 chang/zhang, 重 chong/zhong, 行 xing/hang
MIXED = "ABC五金制品厂"
LATIN = "Yongkang Hengda Hardware"
BANK = "银行街文具店"  # 银行: the phrase reads 行 as hang


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    team, other_team = builders.team(), builders.team()
    belt, other_belt = builders.belt(team), builders.belt(other_team)
    rep, rep2 = builders.user("rep", team_=team), builders.user("rep", team_=team)
    made = {
        name: builders.factory(belt, owner=rep, name=name, address=address)
        for name, address in (
            (HONGXIANG, "浙江省金华市永康市五金大道88号"),
            (CHANGCHENG, "浙江省宁波市江北区"),
            (MIXED, ""),
            (LATIN, "Jinhua Road 8"),
            (BANK, ""),
        )
    }
    builders.contact(made[HONGXIANG], name="孙丽", phone="131 7921 6444")
    builders.contact(made[CHANGCHENG], name="王重阳", phone="+86 138-0571-2233")
    return {
        "team": team,
        "belt": belt,
        "other_belt": other_belt,
        "rep": rep,
        "rep2": rep2,
        "factories": made,
    }


def found(user, typed: str) -> tuple[list[str], list[str]]:
    results = search.search(user, search.read_query(typed), TODAY, 50)
    return [row.name for row in results.factories], [row.name for row in results.contacts]


# --- the table of names and queries --------------------------------------------------------

FACTORY_QUERIES = [
    ("宏翔", [HONGXIANG]),
    ("翔门", [HONGXIANG]),
    ("hongxiang", [HONGXIANG]),
    ("HongXiang", [HONGXIANG]),
    ("ｈｏｎｇｘｉａｎｇ", [HONGXIANG]),  # full-width letters
    ("yongkang", [HONGXIANG, LATIN]),  # pinyin, and a name written in letters
    ("hxmy", [HONGXIANG]),  # initials
    ("ykhx", [HONGXIANG]),
    ("永康 门业", [HONGXIANG]),  # words in any order
    ("门业 永康", [HONGXIANG]),
    ("yk mengye", [HONGXIANG]),  # initials and pinyin, -ng for -n as southern speech has it
    ("yongkang menye", [HONGXIANG]),
    ("永康 menye", [HONGXIANG]),  # mixed scripts
    ("五金大道", [HONGXIANG]),  # an address word
    ("宁波 江北", [CHANGCHENG]),
    ("changcheng", [CHANGCHENG]),  # heteronyms: every reading of 长, 重 and 行
    ("zhangcheng", [CHANGCHENG]),
    ("zhongxing", [CHANGCHENG]),
    ("chonghang", [CHANGCHENG]),
    ("cczx", [CHANGCHENG]),
    ("zczx", [CHANGCHENG]),
    ("zcch", [CHANGCHENG]),
    ("yinhang", [BANK]),  # the phrase's own reading
    ("yinxing", [BANK]),  # and the other reading of 行
    ("abc五金", [MIXED]),  # a name in two scripts
    ("abc wj", [MIXED]),
    ("wujin", [CHANGCHENG, MIXED]),
    ("hengda", [LATIN]),
    ("jinhua road", [LATIN]),
    ("nothing like it", []),
    ("xq", []),
]


@pytest.mark.parametrize(("typed", "names"), FACTORY_QUERIES)
def test_a_query_finds_factories_by_name_pinyin_initials_and_address(world, typed, names):
    assert found(world["rep"], typed)[0] == sorted(names)


CONTACT_QUERIES = [
    ("孙丽", ["孙丽"]),
    ("sunli", ["孙丽"]),
    ("131 7921 6444", ["孙丽"]),
    ("+86 13179216444", ["孙丽"]),
    ("0086 131-7921-6444", ["孙丽"]),
    ("13179216444", ["孙丽"]),
    ("(131) 7921 6444", ["孙丽"]),
    ("7921", ["孙丽"]),  # a partial run of four digits or more
    ("921 64", ["孙丽"]),
    ("13805712233", ["王重阳"]),  # written with +86 and dashes, found by its digits
    ("0571 2233", ["王重阳"]),
    ("wangzhongyang", ["王重阳"]),  # a contact's heteronym too
    ("wangchongyang", ["王重阳"]),
    ("9999 8888", []),
]


@pytest.mark.parametrize(("typed", "names"), CONTACT_QUERIES)
def test_a_query_finds_contacts_by_name_and_phone_in_any_format(world, typed, names):
    assert found(world["rep"], typed)[1] == names


def test_a_factory_is_found_by_its_credit_code_typed_whole(world):
    factory = world["factories"][HONGXIANG]
    typed = f"{factory.credit_code[:6]} {factory.credit_code[6:]}".lower()
    assert found(world["rep"], typed)[0] == [HONGXIANG]


def test_a_phone_finds_no_factory_by_the_digits_of_its_name(world):
    factories, contacts = found(world["rep"], "131 7921 6444")
    assert factories == [] and contacts == ["孙丽"]


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("x" * 10_000, "at most 100 characters"),
        ("!!! ??? ...", "Type part of a name"),
        ("—— 、。", "Type part of a name"),
        ("a", "at least two"),
        ("a b c", "at least two"),
        ("ab cd ef gh ij kl mn op qr", "at most 8 words"),
    ],
)
def test_a_query_with_nothing_to_look_for_is_refused_with_a_message(typed, says):
    with pytest.raises(Invalid) as refused:
        search.read_query(typed)
    assert says in refused.value.fields["q"]


def test_percent_and_underscore_are_text(world):
    builders.factory(world["belt"], owner=world["rep"], name="100% Cotton Mill")
    builders.factory(world["belt"], owner=world["rep"], name="1000 Cups")
    assert found(world["rep"], "100%")[0] == ["100% Cotton Mill"]
    with pytest.raises(Invalid):
        search.read_query("%_")


# --- the keys -------------------------------------------------------------------------------


def test_a_key_stays_bounded_whatever_the_readings():
    # 40 characters of two or more readings each: their product would be astronomical.
    name = "长重行" * 13 + "乐"
    key = search_keys.factory_key(name, "")
    assert len(key) < 20_000
    assert len(search_keys.spellings(search_keys.readings(name))) <= search_keys.SPELLINGS_MAX
    # A name of few heteronyms keeps every combination.
    spelled = search_keys.spellings(search_keys.readings("长重"))
    assert {"changchong", "zhangchong", "changzhong", "zhangzhong"} <= set(spelled)


def test_keys_follow_every_write_of_the_orm(world):
    factory = world["factories"][HONGXIANG]
    factory.name = "金华宏远工贸"
    db.session.flush()
    assert found(world["rep"], "hongxiang")[0] == []
    assert found(world["rep"], "hongyuan")[0] == ["金华宏远工贸"]
    factory.address = "义乌市稠城街道"
    db.session.flush()
    assert found(world["rep"], "稠城")[0] == ["金华宏远工贸"]
    contact = db.session.scalars(select(Contact).where(Contact.name == "孙丽")).one()
    contact.phone = "+86 139 0000 1111"
    db.session.flush()
    assert contact.phone_digits == "13900001111"
    assert found(world["rep"], "139 0000 1111")[1] == ["孙丽"]
    assert found(world["rep"], "13179216444")[1] == []


def test_keys_follow_staffs_edits_and_new_contacts(world):
    rep = world["rep"]
    factory = world["factories"][MIXED]
    edits.update_factory(rep, factory, {"name": "东阳红木家具厂"}, NOW)
    db.session.flush()
    assert found(rep, "dyhm")[0] == ["东阳红木家具厂"]
    edits.add_contact(rep, factory, name="李长青", phone="0086 137 1234 5678", now=NOW)
    db.session.flush()
    assert found(rep, "lichangqing")[1] == ["李长青"]
    assert found(rep, "lizhangqing")[1] == ["李长青"]
    assert found(rep, "+86 137-1234-5678")[1] == ["李长青"]


def test_the_bulk_writers_keep_keys_too(world):
    row = import_factories._new_factory(
        {"name": "长兴重工机械厂", "credit_code": builders.credit_code(990), "belt_id": 1}, NOW
    )
    assert "zhangxing" in row["search_key"] and "cxzg" in row["search_key"]
    contact = import_factories._new_contact(1, "孙丽", "+86 131 7921 6444", NOW)
    assert contact["phone_digits"] == "13179216444" and "13179216444" in contact["search_key"]
    made = demo._contact(random.Random(1), "Owner")
    assert made["search_key"] == search_keys.contact_key(made["name"], made["phone"])


# --- scope ----------------------------------------------------------------------------------


def test_the_search_keeps_within_each_users_scope(world):
    rep, rep2 = world["rep"], world["rep2"]
    other = builders.factory(
        world["other_belt"], owner=builders.user("rep", team_=None), name="永康宏翔二厂"
    )
    builders.contact(other, name="孙丽", phone="131 7921 6444")
    manager_a = builders.user("manager", leads=[world["team"]])
    admin = builders.user("admin")
    assert found(rep, "hongxiang") == ([HONGXIANG], [])
    assert found(rep, "孙丽")[1] == ["孙丽"]
    assert found(rep2, "hongxiang") == ([], [])
    assert found(rep2, "13179216444") == ([], [])
    assert found(manager_a, "hongxiang")[0] == [HONGXIANG]
    assert found(admin, "hongxiang")[0] == ["永康宏翔二厂", HONGXIANG]
    assert found(admin, "13179216444")[1] == ["孙丽", "孙丽"]


# --- the query plans ------------------------------------------------------------------------


def plan_of(statement) -> str:
    compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
    if db.engine.dialect.name == "postgresql":
        # The test tables are small: told not to read a table whole, by itself or through an
        # index read end to end, where an index's condition answers.
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        db.session.execute(text("SET LOCAL enable_indexscan = off"))
        plan = "\n".join(db.session.execute(text(f"EXPLAIN {compiled}")).scalars())
        db.session.execute(text("SET LOCAL enable_seqscan = on"))
        db.session.execute(text("SET LOCAL enable_indexscan = on"))
        return plan
    return "\n".join(row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))


@pytest.mark.parametrize("typed", ["hongxiang", "永康 门业", "yk", "孙丽", "131 7921 6444"])
def test_every_query_reads_the_search_indexes(world, typed):
    admin = builders.user("admin")
    query = search.read_query(typed)
    factories = select(Factory.id).where(
        scope.factory_condition(admin, TODAY), search.factory_condition(query)
    )
    contacts = (
        select(Contact.id)
        .join(Factory, Factory.id == Contact.factory_id)
        .where(scope.factory_condition(admin, TODAY), search.contact_condition(query))
    )
    factory_plan, contact_plan = plan_of(factories), plan_of(contacts)
    if db.engine.dialect.name == "postgresql":
        assert "ix_factories_search_key_trgm" in factory_plan, factory_plan
        assert "ix_contacts_search_key_trgm" in contact_plan, contact_plan
        assert "Seq Scan" not in factory_plan + contact_plan
    else:
        assert "VIRTUAL TABLE INDEX" in factory_plan and "factory_search" in factory_plan
        assert "VIRTUAL TABLE INDEX" in contact_plan and "contact_search" in contact_plan
        assert not any(
            line.strip().startswith("SCAN") and "VIRTUAL" not in line
            for line in (factory_plan + "\n" + contact_plan).splitlines()
        ), factory_plan + contact_plan


@pytest.mark.parametrize("typed", ["永康", "hongxiang"])
def test_a_reps_search_reads_no_table_whole(world, typed):
    query = search.read_query(typed)
    statement = select(Factory.id).where(
        scope.factory_condition(world["rep"], TODAY),
        search.factory_condition(query, world["rep"]),
    )
    plan = plan_of(statement)
    assert "Seq Scan on factories" not in plan, plan
    assert not any(line.strip() == "SCAN factories" for line in plan.splitlines()), plan


# --- the match, marked ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "textual", "marked"),
    [
        ("宏翔", HONGXIANG, "宏翔"),
        ("hongxiang", HONGXIANG, "宏翔"),
        ("hxmy", HONGXIANG, "宏翔门业"),
        ("yk mengye", HONGXIANG, "永康门业"),
        ("zhangcheng", CHANGCHENG, "长城"),
        ("hengda", LATIN, "Hengda"),
        ("13179216444", "131 7921 6444", "13179216444"),
        ("7921", "+86 131-7921-6444", "7921"),
    ],
)
def test_the_match_is_marked_where_it_is(typed, textual, marked):
    pieces = search.marked(textual, search.read_query(typed))
    assert "".join(piece for piece, _ in pieces) == textual
    assert "".join(piece for piece, hit in pieces if hit) == marked
