"""The unified social credit code (统一社会信用代码) of GB 32100-2015: its one normal form and
every rule of its five parts, each refusal saying which part is wrong."""

from __future__ import annotations

import re

from flask_babel import gettext as _

from crm.values import is_ascii_digits

# The 31 characters the standard uses: digits and upper-case letters without I, O, Z, S, V.
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# GB 32100-2015 section 5: the 18th character, by GB/T 17710's hybrid system modulo 31.
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
LENGTH = 18

# GB 32100-2015 Table 1 (登记管理部门代码 / 机构类别代码, with its amendments for the
# Central Military Commission's office, A, and agriculture's collective economies, N): each
# registration department (1st character) and the categories (2nd character) it registers.
CATEGORIES: dict[str, str] = {
    "1": "1239",  # 机构编制: 机关, 事业单位, 编办直接管理机构编制的群众团体, 其他
    "2": "19",  # 外交: 外国常驻新闻机构, 其他
    "3": "123459",  # 司法行政: 律师执业机构, 公证处, 基层法律服务所, 司法鉴定机构, 仲裁委员会, 其他
    "4": "19",  # 文化: 外国在华文化中心, 其他
    "5": "1239",  # 民政: 社会团体, 民办非企业单位, 基金会, 其他
    "6": "129",  # 旅游: 外国旅游部门常驻代表机构, 港澳台地区旅游部门常驻内地代表机构, 其他
    "7": "129",  # 宗教: 宗教活动场所, 宗教院校, 其他
    "8": "19",  # 工会: 基层工会, 其他
    "9": "123",  # 工商 (market regulation): 企业, 个体工商户, 农民专业合作社; no "other"
    "A": "19",  # 中央军委改革和编制办公室: 军队事业单位, 其他
    "N": "1239",  # 农业: 组级, 村级, 乡镇级集体经济组织, 其他
    "Y": "1",  # 其他
}
# Characters 9 to 17 are the organisation code of GB 11714-1997 (the standard's 4.4): eight
# characters and a check character of their own (weights below, modulo 11, 10 written X).
ORGANISATION_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

# What people type around a code: spaces (tabs and the full-width space too) and the
# hyphens of grouping ("9135-0100-..."), in any of the dashes a keyboard or a sheet makes.
_DROPPED = re.compile(r"[\s\-\u2010-\u2015\u2212]")
# Full-width ASCII (a Chinese input method's ９１３５…) to half-width.
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def normalise(raw: str) -> str:
    """The one normal form: half-width, without spaces, tabs or hyphens, in upper case."""
    return _DROPPED.sub("", (raw or "").translate(_HALF_WIDTH)).upper()


def check_digit(first17: str) -> str:
    """The 18th character that the first 17 call for."""
    total = sum(
        ALPHABET.index(char) * weight for char, weight in zip(first17, WEIGHTS, strict=True)
    )
    return ALPHABET[(31 - total % 31) % 31]


def organisation_check(first8: str) -> str:
    """The 9th character of an organisation code (GB 11714): a digit or X."""
    total = sum(
        int(char, 36) * weight for char, weight in zip(first8, ORGANISATION_WEIGHTS, strict=True)
    )
    remainder = (11 - total % 11) % 11
    return "X" if remainder == 10 else str(remainder)


def problem(code: str) -> str | None:
    """Why a (normalised) code is not valid, in words for a person, or None when it is."""
    return shape_problem(code) or check_problem(code)


def shape_problem(code: str) -> str | None:
    """What breaks the code's shape: its length, its characters, department, category, region.

    No override lifts these: only the check characters (check_problem) can be recorded
    anyway, by an admin, for codes issued before the national standard.
    """
    if len(code) != LENGTH:
        return _(
            "A credit code has %(length)d characters; this one has %(count)d.",
            length=LENGTH,
            count=len(code),
        )
    for position, char in enumerate(code, start=1):
        if char not in ALPHABET:
            return _(
                "Character %(position)d is not used in credit codes: they use digits and "
                "the letters A to Y without I, O, S, V and Z.",
                position=position,
            )
    department, category, region = code[0], code[1], code[2:8]
    if department not in CATEGORIES:
        return _(
            "The first character is the registration department: 1 to 9, A, N or Y, not %(char)s.",
            char=department,
        )
    if category not in CATEGORIES[department]:
        return _(
            "The second character is the kind of organisation: under registration "
            "department %(department)s it is one of %(allowed)s, not %(char)s.",
            department=department,
            allowed=", ".join(CATEGORIES[department]),
            char=category,
        )
    if not is_ascii_digits(region):
        return _(
            "Characters 3 to 8 are the registering office's region code: six digits, "
            "not %(region)s.",
            region=region,
        )
    return None


def check_problem(code: str) -> str | None:
    """Which check character fails, for a code whose shape is right (shape_problem is None)."""
    organisation = code[8:17]
    if organisation_check(organisation[:8]) != organisation[8]:
        return _(
            "Characters 9 to 17 are the organisation code, and its last character (its "
            "own check character) does not match: check for a typo."
        )
    if check_digit(code[:17]) != code[17]:
        return _("The last character (the check digit) does not match: check for a typo.")
    return None


def is_valid(raw: str) -> bool:
    return problem(normalise(raw)) is None


def stands(code: str | None, overridden: bool) -> bool:
    """Whether a stored code counts (signing into stage 1 needs one): valid, or of the right
    shape and recorded by an admin despite its check characters."""
    if not code:
        return False
    return shape_problem(code) is None and (overridden or check_problem(code) is None)
