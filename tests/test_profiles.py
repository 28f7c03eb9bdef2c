"""Site profiles: the bundled ones load, a malformed one is reported precisely."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.profiles import ProfileError, load_profile, load_profiles


def test_bundled_profiles_load() -> None:
    profiles = load_profiles()
    assert {"investkaluga", "arrko"} <= set(profiles)
    kaluga = profiles["investkaluga"]
    assert kaluga.allowed_domains == ("investkaluga.com",)
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
