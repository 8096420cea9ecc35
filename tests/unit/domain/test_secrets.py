"""Connection strings and passwords kept out of everything printed."""

from __future__ import annotations

import pytest

from kubemigrate.domain.secrets import redact_url, scrub, secret_values


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://app:s3cret@db:5432/shop", "postgresql://app:***@db:5432/shop"),
        (
            "postgres://app:s3cret@db/shop?sslmode=require",
            "postgres://app:***@db/shop?sslmode=require",
        ),
        ("postgresql://app@db/shop", "postgresql://app@db/shop"),
        ("postgresql://db/shop", "postgresql://db/shop"),
        (
            "host=db user=app password=s3cret dbname=shop",
            "host=db user=app password=*** dbname=shop",
        ),
        ("host=db password='with space' dbname=shop", "host=db password=*** dbname=shop"),
        (
            "see postgresql://USER:PASSWORD@HOST:5432/DBNAME",
            "see postgresql://USER:PASSWORD@HOST:5432/DBNAME",
        ),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_secret_values_include_the_url_and_both_password_spellings() -> None:
    url = "postgresql://app:p%40ss%2Fword@db/shop"
    values = secret_values(url)
    assert url in values
    assert "p%40ss%2Fword" in values
    assert "p@ss/word" in values


def test_secret_values_of_keyword_form() -> None:
    assert "hunter22" in secret_values("host=db password=hunter22")


def test_no_secrets_without_a_url() -> None:
    assert secret_values(None) == []
    assert secret_values("") == []


def test_short_values_are_not_treated_as_secrets() -> None:
    # Replacing "a" everywhere would mangle every message.
    assert "a" not in secret_values("postgresql://u:a@db/x")


def test_scrub_removes_the_url_and_the_decoded_password() -> None:
    url = "postgresql://app:p%40ss%2Fword@db/shop"
    text = f"failed to connect to {url}; password p@ss/word rejected"
    cleaned = scrub(text, secret_values(url))
    assert "p@ss/word" not in cleaned
    assert "p%40ss" not in cleaned
    assert "failed to connect to ***" in cleaned


def test_scrub_redacts_other_urls_too() -> None:
    assert scrub("got postgresql://x:y1234@h/d", []) == "got postgresql://x:***@h/d"
