"""The unified social credit code validator (GB 32100-2015)."""

import pytest

from crm.services.factories import credit_code


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110000600037341L"])
def test_real_codes_are_valid(code):
    assert credit_code.problem(code) is None
    assert credit_code.is_valid(code)


def test_typed_spaces_dashes_and_lower_case_are_normalised():
    assert credit_code.normalise(" 9135-0100 m000100y43 ") == "91350100M000100Y43"
    assert credit_code.is_valid("9135 0100 m000 100y 43")


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("91350100M000100Y44", "check digit"),
        ("91110000600037341M", "check digit"),
        ("91350100M000100Y4", "18 characters"),
        ("91350100M000100Y431", "18 characters"),
        ("", "18 characters"),
        ("91350100M000100I43", "letters"),  # I is not in the alphabet
        ("913501O0M000100Y43", "letters"),  # region digits must be digits
        ("Z1350100M000100Y43", "letters"),
        ("H1350100M000100Y43", "registering authority"),
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
            if position in range(2, 8) and not replacement.isdigit():
                continue
            assert credit_code.problem(typo) is not None, typo
