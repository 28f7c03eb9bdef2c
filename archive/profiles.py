"""Site profiles: small TOML files that tell the crawler where a portal's news live."""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from cssselect import GenericTranslator, SelectorError

from pipelines.page import SiteOptions

PROFILES_DIR = Path(__file__).with_name("profiles")

KEYS = ("name", "title", "allowed_domains", "timezone", "start_urls", "hints")
HINTS = ("article_url_pattern", "exclude_url_patterns", "drop_selectors")
SITE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
HOST_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*\Z")


class ProfileError(Exception):
    """A profile file is malformed; the message names the file, the key and the problem."""


@dataclass(frozen=True, slots=True)
class SiteProfile:
    """A profile file: the site's options, with its start URLs by language."""

    options: SiteOptions
    start_urls: dict[str, tuple[str, ...]]
    path: Path

    @property
    def name(self) -> str:
        return self.options.name


def _error(path: Path, key: str, problem: str) -> ProfileError:
    return ProfileError(f"{path}: key {key!r}: {problem}")


def _suggestion(word: str, choices) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _check_keys(table: dict, allowed: tuple[str, ...], prefix: str, path: Path) -> None:
    for key in table:
        if key not in allowed:
            raise _error(path, prefix + key, f"unknown key{_suggestion(key, allowed)}")


def _require(data: dict, key: str, kind: type, path: Path):
    if key not in data:
        raise _error(path, key, "missing")
    value = data[key]
    if not isinstance(value, kind):
        raise _error(path, key, f"expected {kind.__name__}, got {value!r}")
    return value


def _string_list(value, key: str, path: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _error(path, key, "expected a non-empty list of strings")
    return tuple(value)


def _ascii_host(host: str) -> str | None:
    """`host` in lower case with its international labels in IDNA form; None when it is
    not a host name (a URL, a port, an empty or overlong label)."""
    try:
        encoded = host.lower().encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = encoded.split(".")
    if len(encoded) > 253 or not all(HOST_LABEL.match(label) for label in labels):
        return None
    return encoded


def _domains(value, path: Path) -> tuple[str, ...]:
    domains = []
    for domain in _string_list(value, "allowed_domains", path):
        host = _ascii_host(domain)
        if host is None:
            raise _error(
                path, "allowed_domains", f"not a host name (no scheme, port or path): {domain!r}"
            )
        domains.append(host)
    return tuple(domains)


def _url_host(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not hostname:
        return None
    return _ascii_host(hostname)


def _start_urls(data: dict, domains: tuple[str, ...], path: Path) -> dict[str, tuple[str, ...]]:
    table = _require(data, "start_urls", dict, path)
    if not table:
        raise _error(path, "start_urls", "no language given")
    start_urls = {}
    for lang, urls in table.items():
        key = f"start_urls.{lang}"
        if not LANGUAGE.match(lang):
            raise _error(path, key, f"not a language code such as 'ru' or 'en': {lang!r}")
        start_urls[lang] = _string_list(urls, key, path)
        for url in start_urls[lang]:
            host = _url_host(url)
            if host is None:
                raise _error(path, key, f"not an http(s) URL: {url!r}")
            if not any(host == domain or host.endswith("." + domain) for domain in domains):
                raise _error(
                    path, key, f"{url!r} is not on the allowed domains ({', '.join(domains)})"
                )
    return start_urls


def _timezone(data: dict, path: Path) -> str:
    timezone = data.get("timezone", "Europe/Moscow")
    if not isinstance(timezone, str):
        raise _error(path, "timezone", f"expected a time zone name, got {timezone!r}")
    try:
        ZoneInfo(timezone)
    except (ValueError, OSError, ZoneInfoNotFoundError):
        suggestion = _suggestion(timezone, available_timezones())
        raise _error(path, "timezone", f"unknown time zone {timezone!r}{suggestion}") from None
    return timezone


def _title(data: dict, name: str, path: Path) -> str:
    title = data.get("title", name)
    if not isinstance(title, str) or not title.strip():
        raise _error(path, "title", f"expected a non-empty string, got {title!r}")
    return title


def _pattern(value, key: str, path: Path) -> str:
    if not isinstance(value, str):
        raise _error(path, key, f"expected a regular expression string, got {value!r}")
    try:
        re.compile(value)
    except re.error as exc:
        raise _error(path, key, f"bad regular expression: {exc}") from None
    return value


def _patterns(value, key: str, path: Path) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _error(path, key, f"expected a list of regular expressions, got {value!r}")
    return tuple(_pattern(pattern, key, path) for pattern in value)


def css_selector_problem(selector: str) -> str | None:
    """What is wrong with a CSS selector, or None when it is valid."""
    try:
        GenericTranslator().css_to_xpath(selector)
    except SelectorError as exc:
        return f"bad CSS selector {selector!r}: {exc}"
    return None


def _selectors(value, key: str, path: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _error(path, key, "expected a list of CSS selectors")
    for selector in value:
        if problem := css_selector_problem(selector):
            raise _error(path, key, problem)
    return tuple(value)


def load_profile(path: Path) -> SiteProfile:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML: {exc}") from exc
    _check_keys(data, KEYS, "", path)
    name = _require(data, "name", str, path)
    if not SITE_NAME.match(name):
        raise _error(path, "name", f"expected letters, digits, '.', '_' or '-', got {name!r}")
    domains = _domains(_require(data, "allowed_domains", list, path), path)
    hints = data.get("hints", {})
    if not isinstance(hints, dict):
        raise _error(path, "hints", "expected a table")
    _check_keys(hints, HINTS, "hints.", path)
    article_pattern = hints.get("article_url_pattern")
    start_urls = _start_urls(data, domains, path)
    options = SiteOptions(
        name=name,
        title=_title(data, name, path),
        allowed_domains=domains,
        start_urls=tuple(url for urls in start_urls.values() for url in urls),
        article_url_pattern=(
            _pattern(article_pattern, "hints.article_url_pattern", path)
            if article_pattern is not None
            else None
        ),
        exclude_url_patterns=_patterns(
            hints.get("exclude_url_patterns", []), "hints.exclude_url_patterns", path
        ),
        timezone=_timezone(data, path),
        drop_selectors=_selectors(hints.get("drop_selectors", []), "hints.drop_selectors", path),
    )
    return SiteProfile(options, start_urls, path)


def load_profiles(directory: Path = PROFILES_DIR) -> dict[str, SiteProfile]:
    profiles = {}
    for path in sorted(directory.glob("*.toml")):
        profile = load_profile(path)
        if profile.name in profiles:
            raise _error(path, "name", f"{profile.name!r} is used by another profile")
        profiles[profile.name] = profile
    return profiles
