"""The console's message catalogues: the same keys in every language, each message non-empty,
the same {placeholders} in each, and every key the scripts ask for present."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

CONSOLE = Path(__file__).resolve().parents[2] / "api" / "console"
LANGS = ("en", "zh-CN")


def catalogue(lang: str) -> dict[str, str]:
    data = json.loads((CONSOLE / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_every_key_exists_in_both_languages() -> None:
    en, zh = catalogue("en"), catalogue("zh-CN")
    assert sorted(en) == sorted(zh), set(en) ^ set(zh)


@pytest.mark.parametrize("lang", LANGS)
def test_messages_are_filled_and_keep_their_placeholders(lang: str) -> None:
    en, other = catalogue("en"), catalogue(lang)
    for key, text in other.items():
        assert text.strip(), key
        assert set(re.findall(r"\{\w+\}", text)) == set(re.findall(r"\{\w+\}", en[key])), key


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
