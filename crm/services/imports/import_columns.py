"""The columns an import reads: each field's labels in two languages and the other headers
managers' sheets give it, how a header is recognised, and yes and no as sheets write them.

A column is recognised by its header in English or Chinese (the labels the factory pages use,
and the words managers' own sheets use for them); any other header waits for the user to map
it. The files themselves are read by crm.services.imports.import_formats.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

LANGUAGES = ("en", "zh")


@dataclass(frozen=True)
class Field:
    """One thing an import reads: its name, labels in both languages, and other headers for it."""

    name: str
    label_en: str
    label_zh: str
    required: bool = False
    aliases: tuple[str, ...] = ()

    def label(self, language: str) -> str:
        return self.label_zh if language.startswith("zh") else self.label_en

    def headers(self) -> set[str]:
        return {
            header_key(text) for text in (self.name, self.label_en, self.label_zh, *self.aliases)
        }


# Each field's other names: the words of managers' own sheets, of LibreOffice's and WPS's
# templates and of other CRMs' exports, in Chinese and English. A header is compared after
# header_key, so case, spaces, full-width forms and marks such as "*" or "(必填)" do not count.
CREDIT_CODE = Field(
    "credit_code",
    "Unified social credit code",
    "统一社会信用代码",
    required=True,
    aliases=(
        "credit code",
        "social credit code",
        "USCC",
        "信用代码",
        "社会信用代码",
        "统一信用代码",
        "企业信用代码",
        "统一社会信用代码证",
    ),
)
FACTORY_FIELDS = (
    CREDIT_CODE,
    Field(
        "name",
        "Factory name",
        "企业名称",
        required=True,
        aliases=(
            "name",
            "factory",
            "company",
            "company name",
            "enterprise name",
            "supplier name",
            "名称",
            "工厂名称",
            "公司名称",
            "企业名",
            "厂名",
            "厂家名称",
            "商家名称",
            "供应商名称",
        ),
    ),
    Field(
        "belt",
        "Belt",
        "产业带",
        required=True,
        aliases=("industrial belt", "industry belt", "belt code", "所属产业带", "产业带名称"),
    ),
    Field(
        "category",
        "Category",
        "品类",
        aliases=(
            "main category",
            "product category",
            "主营类目",
            "主营品类",
            "类目",
            "主营产品",
            "经营类目",
            "所属类目",
        ),
    ),
    Field(
        "address",
        "Address",
        "地址",
        aliases=(
            "full address",
            "street address",
            "factory address",
            "company address",
            "详细地址",
            "企业地址",
            "工厂地址",
            "公司地址",
            "联系地址",
            "经营地址",
            "厂址",
        ),
    ),
    Field(
        "shop_url",
        "Shop link",
        "店铺链接",
        aliases=(
            "shop",
            "shop url",
            "shop address",
            "store link",
            "store url",
            "online shop",
            "店铺",
            "网店",
            "网店链接",
            "网店地址",
            "店铺地址",
            "店铺网址",
        ),
    ),
    Field("lat", "Latitude", "纬度", aliases=("lat",)),
    Field("lng", "Longitude", "经度", aliases=("lng", "lon", "long")),
    Field(
        "is_key_account",
        "Key account",
        "重点客户",
        aliases=(
            "KA",
            "is key account",
            "key customer",
            "大客户",
            "是否重点客户",
            "是否重点",
            "重点企业",
            "是否大客户",
            "是否KA",
        ),
    ),
    Field(
        "contact_name",
        "Contact",
        "联系人",
        aliases=("contact name", "contact person", "联系人姓名", "负责人", "对接人"),
    ),
    Field(
        "contact_phone",
        "Contact phone",
        "联系电话",
        aliases=(
            "phone",
            "mobile",
            "telephone",
            "tel",
            "phone number",
            "mobile phone",
            "电话",
            "手机",
            "手机号",
            "手机号码",
            "电话号码",
            "联系方式",
            "联系手机",
        ),
    ),
)
SNAPSHOT_FIELDS = (
    CREDIT_CODE,
    Field(
        "metric",
        "Figure",
        "数据指标",
        required=True,
        aliases=("metric", "metric code", "指标", "指标代码", "指标名称"),
    ),
    Field(
        "month",
        "Month",
        "月份",
        required=True,
        aliases=("period", "统计月份", "月", "统计周期"),
    ),
    Field("value", "Value", "数值", required=True, aliases=("值", "数据", "指标值")),
)
FIELDS = {"factories": FACTORY_FIELDS, "snapshots": SNAPSHOT_FIELDS}
KIND_LABELS = {"factories": _l("Factories"), "snapshots": _l("Monthly figures")}

# Yes and no as spreadsheets write them; the export writes the first of each language.
YES = {"en": "yes", "zh": "是"}
NO = {"en": "no", "zh": "否"}
TRUE_WORDS = frozenset({"yes", "y", "true", "1", "是", "√", "✓", "x"})
FALSE_WORDS = frozenset({"no", "n", "false", "0", "否", ""})
# "(optional)", "(必填)" and the like after a header, as templates mark their columns.
OPTIONAL_MARK = re.compile(r"[(\[【](?:optional|required|选填|必填|可选|非必填)[)\]】]")


def header_key(text: str) -> str:
    """A header reduced for comparison: full-width forms, case, spaces, punctuation and a mark
    such as "(optional)" or "（必填）" let go, so that "*企业名称（必填）：" is "企业名称"."""
    text = unicodedata.normalize("NFKC", str(text or "")).casefold()
    text = OPTIONAL_MARK.sub("", text)
    return re.sub(r"[\W_]", "", text)


def fields_of(kind: str) -> tuple[Field, ...]:
    return FIELDS[kind]


def field_named(kind: str, name: str) -> Field | None:
    return next((field for field in FIELDS[kind] if field.name == name), None)


def recognise(kind: str, headers: list[str]) -> list[str]:
    """The field each header names ("" when unknown); a field is taken by its first column only."""
    taken: set[str] = set()
    mapping = []
    for header in headers:
        key = header_key(header)
        match = next(
            (f.name for f in FIELDS[kind] if key and key in f.headers() and f.name not in taken),
            "",
        )
        taken.add(match)
        mapping.append(match)
    return mapping


def template_header(kind: str, language: str) -> list[str]:
    return [field.label(language) for field in FIELDS[kind]]
