"""Site profiles: the bundled ones load, a malformed one is reported precisely."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.profiles import ProfileError, load_profile, load_profiles

VALID = 'name = "a"\nallowed_domains = ["a.ru"]\n[start_urls]\nru = ["https://a.ru/"]\n'


def test_bundled_profiles_load() -> None:
    profiles = load_profiles()
    assert {"investkaluga", "arrko"} <= set(profiles)
    kaluga = profiles["investkaluga"]
    assert kaluga.options.allowed_domains == ("investkaluga.com",)
    assert set(kaluga.start_urls) == {"ru", "en"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name = ", "not valid TOML"),
        ('allowed_domains = ["a.ru"]\n[start_urls]\nru = ["https://a.ru/"]', "key 'name': missing"),
        ('name = "a"\nallowed_domains = "a.ru"\n', "key 'allowed_domains': expected list"),
        ('name = "a"\nallowed_domains = ["a.ru"]\n[start_urls]\n', "key 'start_urls': no language"),
        (
            'name = "a"\nallowed_domains = ["a.ru"]\n[start_urls]\nru = ["a.ru/news"]',
            "key 'start_urls.ru': not an http(s) URL",
        ),
        (
            'name = "a"\ntimezone = "Mars/Base"\nallowed_domains = ["a.ru"]\n'
            '[start_urls]\nru = ["https://a.ru/"]',
            "key 'timezone': unknown time zone 'Mars/Base'",
        ),
        (
            'name = "a"\nallowed_domains = ["a.ru"]\n[start_urls]\nru = ["https://a.ru/"]\n'
            '[hints]\narticle_url_pattern = "(unclosed"',
            "key 'hints.article_url_pattern': bad regular expression",
        ),
        (f"timezone = 5\n{VALID}", "key 'timezone': expected a time zone name, got 5"),
        (
            f'timezone = "Mars/Olympus"\n{VALID}',
            "key 'timezone': unknown time zone 'Mars/Olympus'",
        ),
        (
            f'timezone = "europe/moscow"\n{VALID}',
            "key 'timezone': unknown time zone 'europe/moscow'; did you mean 'Europe/Moscow'?",
        ),
        (f'timezone = "Europe"\n{VALID}', "key 'timezone': unknown time zone 'Europe'"),
        (f'timezone = ""\n{VALID}', "key 'timezone': unknown time zone ''"),
        (f'timezon = "UTC"\n{VALID}', "key 'timezon': unknown key; did you mean 'timezone'?"),
        (f"zzz = 1\n{VALID}", "key 'zzz': unknown key"),
        (
            'name = "a b"\nallowed_domains = ["a.ru"]\n[start_urls]\nru = ["https://a.ru/"]',
            "key 'name': expected letters",
        ),
        (f"title = 3\n{VALID}", "key 'title': expected a non-empty string, got 3"),
        (
            'name = "a"\nallowed_domains = ["https://a.ru/"]\n[start_urls]\nru = ["https://a.ru/"]',
            "key 'allowed_domains': not a host name (no scheme, port or path): 'https://a.ru/'",
        ),
        (
            'name = "a"\nallowed_domains = ["a.ru:8080"]\n[start_urls]\nru = ["https://a.ru/"]',
            "key 'allowed_domains': not a host name (no scheme, port or path): 'a.ru:8080'",
        ),
        (
            'name = "a"\nallowed_domains = ["a..ru"]\n[start_urls]\nru = ["https://a.ru/"]',
            "key 'allowed_domains': not a host name (no scheme, port or path): 'a..ru'",
        ),
        (
            'name = "a"\nallowed_domains = []\n[start_urls]\nru = ["https://a.ru/"]',
            "key 'allowed_domains': expected a non-empty list of strings",
        ),
        (
            'name = "a"\nallowed_domains = ["a.ru"]\n[start_urls]\nru = ["https://b.ru/news/"]',
            "key 'start_urls.ru': 'https://b.ru/news/' is not on the allowed domains (a.ru)",
        ),
        (
            'name = "a"\nallowed_domains = ["a.ru"]\n[start_urls]\nru = ["https://aa.ru/"]',
            "key 'start_urls.ru': 'https://aa.ru/' is not on the allowed domains (a.ru)",
        ),
        (
            'name = "a"\nallowed_domains = ["a.ru"]\n[start_urls]\nru = ["http://[::1/"]',
            "key 'start_urls.ru': not an http(s) URL: 'http://[::1/'",
        ),
        (
            'name = "a"\nallowed_domains = ["a.ru"]\n[start_urls]\nRussian = ["https://a.ru/"]',
            "key 'start_urls.Russian': not a language code such as 'ru' or 'en': 'Russian'",
        ),
        (
            'name = "a"\nallowed_domains = ["a.ru"]\nstart_urls = ["https://a.ru/"]',
            "key 'start_urls': expected dict",
        ),
        (f'hints = "/news/"\n{VALID}', "key 'hints': expected a table"),
        (
            f"{VALID}\n[hints]\narticle_url_pattern = 1",
            "key 'hints.article_url_pattern': expected a regular expression string, got 1",
        ),
        (
            f'{VALID}\n[hints]\nexclude_url_patterns = "/print/"',
            "key 'hints.exclude_url_patterns': expected a list of regular expressions",
        ),
        (
            f'{VALID}\n[hints]\nexclude_url_patterns = ["[a-"]',
            "key 'hints.exclude_url_patterns': bad regular expression",
        ),
        (
            f'{VALID}\n[hints]\nexclude_url_pattern = ["/print/"]',
            "key 'hints.exclude_url_pattern': unknown key; did you mean 'exclude_url_patterns'?",
        ),
        (
            f'{VALID}\n[hints]\ndrop_selectors = ["div[["]',
            "key 'hints.drop_selectors': bad CSS selector 'div[['",
        ),
    ],
)
def test_malformed_profile_names_file_key_and_problem(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ProfileError) as error:
        load_profile(path)
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)


def test_a_profile_on_international_domains_compares_their_idna_form(tmp_path: Path) -> None:
    (tmp_path / "rf.toml").write_text(
        'name = "rf"\nallowed_domains = ["Пример.РФ"]\n'
        '[start_urls]\nru = ["https://новости.пример.рф/", "https://xn--e1afmkfd.xn--p1ai/en/"]\n',
        encoding="utf-8",
    )
    profile = load_profiles(tmp_path)["rf"]
    assert profile.options.allowed_domains == ("xn--e1afmkfd.xn--p1ai",)
    assert profile.start_urls["ru"][0] == "https://новости.пример.рф/"


def test_load_profiles_names_the_bad_file_in_a_directory(tmp_path: Path) -> None:
    (tmp_path / "good.toml").write_text(VALID, encoding="utf-8")
    other = VALID.replace('"a"', '"b"')
    (tmp_path / "bad.toml").write_text(f"timezone = 5\n{other}", encoding="utf-8")
    with pytest.raises(ProfileError) as error:
        load_profiles(tmp_path)
    assert (
        str(error.value)
        == f"{tmp_path / 'bad.toml'}: key 'timezone': expected a time zone name, got 5"
    )


def test_two_profiles_with_one_name_are_refused(tmp_path: Path) -> None:
    (tmp_path / "one.toml").write_text(VALID, encoding="utf-8")
    (tmp_path / "two.toml").write_text(VALID, encoding="utf-8")
    with pytest.raises(ProfileError) as error:
        load_profiles(tmp_path)
    assert (
        str(error.value) == f"{tmp_path / 'two.toml'}: key 'name': 'a' is used by another profile"
    )
