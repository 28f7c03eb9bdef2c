"""Checks of crawl settings: a value that cannot work stops the command before the crawl."""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from scrapy.settings import BaseSettings, default_settings

from crawler import settings as project_settings

KNOWN_SETTINGS = frozenset(
    name
    for module in (default_settings, project_settings)
    for name in dir(module)
    if name.isupper()
)

LOG_LEVELS = {"CRITICAL": 50, "ERROR": 40, "WARNING": 30, "INFO": 20, "DEBUG": 10}

# Settings whose dict maps a component's import path to its order (null disables it).
COMPONENT_SETTINGS = frozenset(
    {
        "ADDONS",
        "DOWNLOADER_MIDDLEWARES",
        "EXTENSIONS",
        "ITEM_PIPELINES",
        "SPIDER_CONTRACTS",
        "SPIDER_MIDDLEWARES",
    }
)
STORAGE_PIPELINE = "crawler.storage.StoragePipeline"


class SettingError(ValueError):
    """An overridden setting whose value does not fit the setting."""


@dataclass(frozen=True, slots=True)
class Range:
    """The numbers a setting takes: from `low` (left out when `above_low`) up to `high`."""

    low: float = 0
    high: float = math.inf
    above_low: bool = False

    def __contains__(self, number: float) -> bool:
        above = number > self.low if self.above_low else number >= self.low
        return above and number <= self.high

    def __str__(self) -> str:
        if self.high < math.inf:
            return f"between {self.low:.15g} and {self.high:.15g}"
        return f"{'greater than' if self.above_low else 'at least'} {self.low:.15g}"


AT_LEAST_ONE = Range(1)
POSITIVE = Range(0, above_low=True)
NON_NEGATIVE = Range(0)
ANY_NUMBER = Range(-math.inf)
# Revisit windows longer than this mean "always"; datetime.timedelta holds far more.
LONGEST_DAYS = 1000 * 365.25

RANGES = {
    "AUTOTHROTTLE_TARGET_CONCURRENCY": POSITIVE,
    "CONCURRENT_ITEMS": AT_LEAST_ONE,
    "CONCURRENT_REQUESTS": AT_LEAST_ONE,
    "CONCURRENT_REQUESTS_PER_DOMAIN": AT_LEAST_ONE,
    "DNS_TIMEOUT": POSITIVE,
    "DOWNLOAD_TIMEOUT": POSITIVE,
    "MEMUSAGE_CHECK_INTERVAL_SECONDS": POSITIVE,
    "NEWSARCHIVE_MAX_ERROR_SHARE": Range(0, 1),
    "NEWSARCHIVE_MAX_LINKS_PER_PAGE": AT_LEAST_ONE,
    "NEWSARCHIVE_MAX_PAGE_TAGS": AT_LEAST_ONE,
    "NEWSARCHIVE_MAX_ROBOTS_BYTES": AT_LEAST_ONE,
    "NEWSARCHIVE_PAGE_TIME_BUDGET": POSITIVE,
    "NEWSARCHIVE_RUN_UPDATE_INTERVAL": POSITIVE,
    "NEWSARCHIVE_STORE_BATCH": AT_LEAST_ONE,
    "NEWSARCHIVE_STORE_INTERVAL": POSITIVE,
    "NEWSARCHIVE_REVISIT_AFTER_HOURS": Range(0, LONGEST_DAYS * 24),
    "NEWSARCHIVE_REVISIT_WITHIN_DAYS": Range(0, LONGEST_DAYS),
    "REACTOR_THREADPOOL_MAXSIZE": AT_LEAST_ONE,
}


def _range_of(name: str) -> Range:
    """The numbers a numeric setting takes: its own rule, else any priority adjustment,
    else 0 or more."""
    if name in RANGES:
        return RANGES[name]
    if name.endswith(("_PRIORITY", "_PRIORITY_ADJUST")):
        return ANY_NUMBER
    return NON_NEGATIVE


def _check_name(name: str) -> None:
    """Raises SettingError, with the closest known name, for a setting nothing reads."""
    if name in KNOWN_SETTINGS:
        return
    close = difflib.get_close_matches(name.upper(), KNOWN_SETTINGS, n=1)
    suggestion = f"; did you mean {close[0]}?" if close else ""
    raise SettingError(f"setting {name}: unknown setting{suggestion}")


def checked_value(name: str, value: object, default: object) -> object:
    """`value` read as a value of the setting `name`, whose value so far is `default`;
    raises SettingError when the setting is unknown or the value cannot work."""
    _check_name(name)
    if name.endswith("LOG_LEVEL"):
        return _log_level(name, value)
    if isinstance(default, BaseSettings | dict):
        return _dict(name, value)
    if isinstance(default, list) and default and all(type(v) is int for v in default):
        return _whole_numbers(name, value)
    raw = BaseSettings({name: value})
    readers: tuple[tuple[type, Callable[[str], object], str], ...] = (
        (bool, raw.getbool, "true or false"),
        (int, raw.getint, "a whole number"),
        (float, raw.getfloat, "a number"),
    )
    for kind, read, expected in readers:
        if isinstance(default, kind):
            try:
                typed = read(name)
            except ValueError:
                raise SettingError(f"setting {name}: {value!r} is not {expected}") from None
            if kind is not bool:
                _check_range(name, value, typed)
            return typed
    return value


def _check_range(name: str, value: object, number: float) -> None:
    if isinstance(number, float) and not math.isfinite(number):
        raise SettingError(f"setting {name}: {value!r} is not a finite number")
    allowed = _range_of(name)
    if number not in allowed:
        raise SettingError(f"setting {name}: {value!r} is out of range: must be {allowed}")


def _log_level(name: str, value: object) -> str | int:
    level = str(value).strip().upper()
    if level in LOG_LEVELS:
        return level
    if level in {str(number) for number in LOG_LEVELS.values()}:
        return int(level)
    names = ", ".join(LOG_LEVELS)
    raise SettingError(f"setting {name}: {value!r} is not a log level ({names})")


def _dict(name: str, value: object) -> Mapping:
    parsed = value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
    if not isinstance(parsed, Mapping):
        raise SettingError(f"setting {name}: {value!r} is not a JSON object")
    if name in COMPONENT_SETTINGS:
        for component, order in parsed.items():
            if order is not None and type(order) is not int:
                raise SettingError(
                    f"setting {name}: the order of {component!r} is {order!r}, "
                    "not a whole number or null"
                )
    return parsed


def _whole_numbers(name: str, value: object) -> list[int]:
    items = BaseSettings({name: value}).getlist(name)
    try:
        return [int(item) for item in items]
    except (TypeError, ValueError):
        raise SettingError(
            f"setting {name}: {value!r} is not a comma-separated list of whole numbers"
        ) from None


def check_storage(settings: BaseSettings) -> None:
    """Raises SettingError when the item pipelines leave out the one that archives."""
    if settings.getwithbase("ITEM_PIPELINES").get(STORAGE_PIPELINE) is None:
        raise SettingError(
            f"setting ITEM_PIPELINES: nothing would be archived without {STORAGE_PIPELINE}"
        )
