"""The console's message catalogues: the same keys in every language, each message non-empty,
the same {placeholders} in each, and every key the scripts ask for present.

Counted messages (``tn("wall.alerts", n)`` in js/i18n.js) are one key per plural category of
the language, ``wall.alerts.one`` and ``wall.alerts.other`` in English, ``wall.alerts.other``
alone in Chinese: each language has exactly its own categories for every counted message."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

CONSOLE = Path(__file__).resolve().parents[2] / "api" / "console"
LANGS = ("en", "zh-CN")
# CLDR's cardinal categories, what Intl.PluralRules(lang).resolvedOptions().pluralCategories
# gives in the browser.
PLURAL_CATEGORIES = {"en": {"one", "other"}, "zh-CN": {"other"}}
CATEGORY = re.compile(r"^(.+)\.(zero|one|two|few|many|other)$")


def catalogue(lang: str) -> dict[str, str]:
    data = json.loads((CONSOLE / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def split(cat: dict[str, str]) -> tuple[set[str], dict[str, set[str]]]:
    """(plain keys, counted message -> its plural categories)."""
    plain: set[str] = set()
    counted: dict[str, set[str]] = {}
    for key in cat:
        m = CATEGORY.match(key)
        if m:
            counted.setdefault(m.group(1), set()).add(m.group(2))
        else:
            plain.add(key)
    return plain, counted


def test_every_key_exists_in_both_languages() -> None:
    (en, en_counted), (zh, zh_counted) = split(catalogue("en")), split(catalogue("zh-CN"))
    assert sorted(en) == sorted(zh), en ^ zh
    assert sorted(en_counted) == sorted(zh_counted), set(en_counted) ^ set(zh_counted)
    assert en_counted, "no counted messages found: the plural keys changed shape"


@pytest.mark.parametrize("lang", LANGS)
def test_counted_messages_have_each_plural_category_of_their_language(lang: str) -> None:
    _, counted = split(catalogue(lang))
    wrong = {base: sorted(cats) for base, cats in counted.items()
             if cats != PLURAL_CATEGORIES[lang]}
    assert wrong == {}, f"{lang} needs exactly {sorted(PLURAL_CATEGORIES[lang])}"


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{\w+\}", text))


@pytest.mark.parametrize("lang", LANGS)
def test_messages_are_filled_and_keep_their_placeholders(lang: str) -> None:
    en, other = catalogue("en"), catalogue(lang)
    for key, text in other.items():
        assert text.strip(), key
        m = CATEGORY.match(key)
        # A counted message's forms all say {n}, so compare with English's "other".
        reference = en[f"{m.group(1)}.other"] if m else en[key]
        assert _placeholders(text) == _placeholders(reference), key
        if m:
            assert "{n}" in text, key


def test_chinese_is_chinese() -> None:
    zh = catalogue("zh-CN")
    # Apart from symbols and codes, the Chinese catalogue must not fall back to English.
    latin_only = [k for k, v in zh.items()
                  if not re.search(r"[\u4e00-\u9fff]", v) and re.search(r"[A-Za-z]{3,}", v)]
    assert latin_only == [], latin_only


def test_every_key_the_scripts_use_is_in_the_catalogue() -> None:
    en = catalogue("en")
    sources = [p.read_text(encoding="utf-8") for p in
               [*CONSOLE.glob("js/*.js"), CONSOLE / "login.js", *CONSOLE.glob("*.html")]]
    pattern = re.compile(r"""\bt\(\s*"([a-z0-9_.]+)"|data-i18n(?:-\w+)?="([a-z0-9_.]+)\"""")
    used = {key for src in sources for groups in pattern.findall(src) for key in groups if key}
    assert used, "no message keys found: the pattern no longer matches the scripts"
    assert sorted(used - set(en)) == []
    counted = {key for src in sources for key in re.findall(r'\btn\(\s*"([a-z0-9_.]+)"', src)}
    assert counted, "no counted messages found: the pattern no longer matches the scripts"
    for lang in LANGS:
        _, have = split(catalogue(lang))
        assert sorted(counted - set(have)) == [], lang
