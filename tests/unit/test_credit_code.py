"""The unified social credit code: every rule of GB 32100-2015, and its one normal form."""

import pytest

from crm.services.factories import credit_code


def whole(first16: str) -> str:
    """A code from its first 16 characters, both check characters made to match."""
    first17 = first16 + credit_code.organisation_check(first16[8:16])
    return first17 + credit_code.check_digit(first17)


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y43",
        "91110000600037341L",
        "91330100716105852F",
        "914403001922038216",
        "91440300708461136T",
        "91310230MA1K314J7C",
    ],
)
def test_real_codes_are_valid(code):
    assert credit_code.problem(code) is None
    assert credit_code.is_valid(code)


def test_typed_spaces_dashes_and_lower_case_are_normalised():
    assert credit_code.normalise(" 9135-0100 m000100y43 ") == "91350100M000100Y43"
    assert credit_code.is_valid("9135 0100 m000 100y 43")


def test_trailing_tabs_and_hyphen_grouping_are_removed():
    assert credit_code.normalise("91350100M000100Y43\t\t") == "91350100M000100Y43"
    assert credit_code.normalise("9-1-350100-M000100Y4-3") == "91350100M000100Y43"


def test_full_width_characters_and_dashes_are_made_half_width():
    """What a Chinese input method types: full-width digits and letters, 　 and － between."""
    typed = "９１３５０１００　Ｍ０００１００－Ｙ４３"
    assert credit_code.normalise(typed) == "91350100M000100Y43"
    assert credit_code.is_valid("9135\u20130100\u2014M000100Y43")


@pytest.mark.parametrize("department", "BCDEFG")
def test_registration_departments_b_to_g_are_refused(department):
    code = whole(f"{department}1350100M000100Y")
    problem = credit_code.problem(code)
    assert problem is not None and "registration department" in problem
    assert "1 to 9, A, N or Y" in problem and f"not {department}" in problem


@pytest.mark.parametrize(
    ("department", "categories"),
    [
        ("1", "1239"),
        ("2", "19"),
        ("3", "123459"),
        ("4", "19"),
        ("5", "1239"),
        ("6", "129"),
        ("7", "129"),
        ("8", "19"),
        ("9", "123"),
        ("A", "19"),
        ("N", "1239"),
        ("Y", "1"),
    ],
)
def test_each_department_takes_the_categories_of_table_1(department, categories):
    for category in credit_code.ALPHABET:
        problem = credit_code.problem(whole(f"{department}{category}350100M000100Y"))
        if category in categories:
            assert problem is None, (department, category)
        else:
            assert problem is not None and "kind of organisation" in problem


def test_category_4_under_market_regulation_is_refused():
    problem = credit_code.problem(whole("94350100M000100Y"))
    assert problem == (
        "The second character is the kind of organisation: under registration department 9 "
        "it is one of 1, 2, 3, not 4."
    )


def test_the_organisation_codes_own_check_character_is_checked():
    """Characters 9 to 17 are a GB 11714 code: a wrong 17th fails even when the 18th fits."""
    first17 = "91350100M000100Y5"  # the organisation code M000100Y4 with a 5 for its 4
    code = first17 + credit_code.check_digit(first17)
    problem = credit_code.problem(code)
    assert problem is not None and "organisation code" in problem
    assert credit_code.shape_problem(code) is None


def test_the_region_is_six_ascii_digits_and_other_digits_never_crash():
    assert "region code" in credit_code.problem(whole("913501A0M000100Y"))
    arabic_indic = "91\u0663\u0665\u0660100M000100Y43"  # ٣٥٠ pass str.isdigit()
    problem = credit_code.problem(credit_code.normalise(arabic_indic))
    assert problem is not None and "Character 3" in problem


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("91350100M000100Y44", "check digit"),
        ("91110000600037341M", "check digit"),
        ("91350100M000100Y4", "18 characters"),
        ("91350100M000100Y431", "18 characters"),
        ("", "18 characters"),
        ("91350100M000100I43", "Character 16"),  # I is not in the alphabet
        ("913501O0M000100Y43", "Character 7"),
        ("Z1350100M000100Y43", "letters A to Y without I, O, S, V and Z"),
        ("H1350100M000100Y43", "registration department"),
    ],
)
def test_invalid_codes_say_why(code, words):
    problem = credit_code.problem(credit_code.normalise(code))
    assert problem is not None and words in problem


def test_every_single_character_typo_is_caught():
    code = "91350100M000100Y43"
    for position in range(17):
        for replacement in credit_code.ALPHABET:
            if replacement == code[position]:
                continue
            typo = code[:position] + replacement + code[position + 1 :]
            assert credit_code.problem(typo) is not None, typo


def test_a_code_failing_only_a_check_character_stands_once_an_admin_recorded_it():
    """As the two codes of Xiamen's pilot, issued before the national standard."""
    valid = whole("91350200M0001234")
    pilot = valid[:17] + next(c for c in credit_code.ALPHABET if c != valid[17])
    assert credit_code.shape_problem(pilot) is None
    assert "check digit" in credit_code.check_problem(pilot)
    assert not credit_code.stands(pilot, overridden=False)
    assert credit_code.stands(pilot, overridden=True)
    assert credit_code.stands(valid, overridden=False)


def test_no_override_lifts_the_shape_rules():
    assert not credit_code.stands(whole("94350100M000100Y"), overridden=True)
    assert not credit_code.stands("91350100M000100Y4", overridden=True)
    assert not credit_code.stands(None, overridden=True)
