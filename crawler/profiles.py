"""Site profiles: small TOML files that tell the crawler where a portal's news live."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cssselect import GenericTranslator, SelectorError

from pipelines.urls import is_http_url

PROFILES_DIR = Path(__file__).with_name("profiles")


class ProfileError(Exception):
    """A profile file is malformed; the message names the file, the key and the problem."""


@dataclass(frozen=True, slots=True)
class SiteProfile:
    name: str
    title: str
    allowed_domains: tuple[str, ...]
    start_urls: dict[str, tuple[str, ...]]
    path: Path
    article_url_pattern: str | None = None
    exclude_url_patterns: tuple[str, ...] = ()
    timezone: str = "Europe/Moscow"
    drop_selectors: tuple[str, ...] = ()

    @property
    def all_start_urls(self) -> list[str]:
        return [url for urls in self.start_urls.values() for url in urls]


def _require(data: dict, key: str, kind: type, path: Path):
    if key not in data:
        raise ProfileError(f"{path}: key {key!r}: missing")
    value = data[key]
    if not isinstance(value, kind):
        raise ProfileError(f"{path}: key {key!r}: expected {kind.__name__}, got {value!r}")
    return value


def _string_list(value, key: str, path: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ProfileError(f"{path}: key {key!r}: expected a non-empty list of strings")
    return tuple(value)


def _pattern(value, key: str, path: Path) -> str:
    if not isinstance(value, str):
        raise ProfileError(f"{path}: key {key!r}: expected a regular expression string")
    try:
        re.compile(value)
    except re.error as exc:
        raise ProfileError(f"{path}: key {key!r}: bad regular expression: {exc}") from None
    return value


def css_selector_problem(selector: str) -> str | None:
    """What is wrong with a CSS selector, or None when it is valid."""
    try:
        GenericTranslator().css_to_xpath(selector)
    except SelectorError as exc:
        return f"bad CSS selector {selector!r}: {exc}"
    return None


def _selectors(value, key: str, path: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProfileError(f"{path}: key {key!r}: expected a list of CSS selectors")
    for selector in value:
        if problem := css_selector_problem(selector):
            raise ProfileError(f"{path}: key {key!r}: {problem}")
    return tuple(value)


def load_profile(path: Path) -> SiteProfile:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML: {exc}") from exc
    name = _require(data, "name", str, path)
    domains = _string_list(_require(data, "allowed_domains", list, path), "allowed_domains", path)
    start_table = _require(data, "start_urls", dict, path)
    if not start_table:
        raise ProfileError(f"{path}: key 'start_urls': no language given")
    start_urls = {}
    for lang, urls in start_table.items():
        key = f"start_urls.{lang}"
        start_urls[lang] = _string_list(urls, key, path)
        for url in start_urls[lang]:
            if not is_http_url(url):
                raise ProfileError(f"{path}: key {key!r}: not an http(s) URL: {url!r}")
    timezone = data.get("timezone", "Europe/Moscow")
    try:
        ZoneInfo(timezone)
    except (ValueError, ZoneInfoNotFoundError):
        raise ProfileError(f"{path}: key 'timezone': unknown time zone {timezone!r}") from None
    hints = data.get("hints", {})
    if not isinstance(hints, dict):
        raise ProfileError(f"{path}: key 'hints': expected a table")
    unknown = set(hints) - {"article_url_pattern", "exclude_url_patterns", "drop_selectors"}
    if unknown:
        raise ProfileError(f"{path}: key 'hints.{sorted(unknown)[0]}': unknown hint")
    article_pattern = hints.get("article_url_pattern")
    excludes = hints.get("exclude_url_patterns", [])
    if not isinstance(excludes, list):
        raise ProfileError(f"{path}: key 'hints.exclude_url_patterns': expected a list")
    return SiteProfile(
        name=name,
        title=data.get("title", name),
        allowed_domains=domains,
        start_urls=start_urls,
        path=path,
        article_url_pattern=(
            _pattern(article_pattern, "hints.article_url_pattern", path)
            if article_pattern is not None
            else None
        ),
        timezone=timezone,
        drop_selectors=_selectors(hints.get("drop_selectors", []), "hints.drop_selectors", path),
        exclude_url_patterns=tuple(
            _pattern(p, "hints.exclude_url_patterns", path) for p in excludes
        ),
    )


def load_profiles(directory: Path = PROFILES_DIR) -> dict[str, SiteProfile]:
    profiles = {}
    for path in sorted(directory.glob("*.toml")):
        profile = load_profile(path)
        if profile.name in profiles:
            raise ProfileError(f"{path}: key 'name': {profile.name!r} is used by another profile")
        profiles[profile.name] = profile
    return profiles
