"""Connection strings and passwords kept out of everything printed."""

from __future__ import annotations

import pytest

from kubemigrate.domain.secrets import redact_url, scrub, secret_values, unencoded_password


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


@pytest.mark.parametrize(
    ("url", "meant"),
    [
        ("postgresql://app:p@ss#w0rd@db:5432/shop", "p@ss#w0rd"),
        ("postgres://app:S3cret#x@db/shop", "S3cret#x"),
        ("postgresql://app:plain@db/shop?application_name=a@b", None),
        ("postgresql://app:p%40ss@db/shop", None),
        # a / ends libpq's host part: the rest of the password went to host or database
        ("postgres://app:Hunter2@Top/Value@db:5432/d1", "Hunter2@Top/Value"),
        ("postgres://app:Hunter2/TopValue@db:5432/d1", "Hunter2/TopValue"),
        ("host=db password=p@ss", None),
    ],
)
def test_unencoded_password(url: str, meant: str | None) -> None:
    assert unencoded_password(url) == meant


def test_every_reading_of_an_unencoded_password_is_scrubbed() -> None:
    url = "postgresql://app:Zebra@Quartz#Seven@db:5432/shop"
    secrets = secret_values(url)
    # libpq's reading: password "Zebra", host "Quartz#Seven@db"; urllib's stops at "#"
    libpq = "failed to resolve host 'Quartz#Seven@db': Name or service not known"
    assert "Quartz" not in scrub(libpq, secrets)
    assert "Seven" not in scrub("netloc app:Zebra@Quartz", secrets)
    assert "Zebra" not in scrub("password Zebra", secrets)
    # a : after the @ made libpq read a host and a port out of it
    secrets = secret_values("postgres://app:Hunter2@TopSecret:Value@db:5432/d1")
    assert scrub("failed to resolve host 'TopSecret'", secrets) == "failed to resolve host '***'"


def test_a_result_stays_json_whatever_the_password() -> None:
    """The operator reads a Job's result as JSON: a password that is a JSON word or
    a number must not break it, and must still be blanked where it appears."""
    import json

    from kubemigrate.domain.secrets import scrub_json

    secrets = secret_values("postgresql://app:true@db:5432/shop")
    text = json.dumps({"ok": True, "dryRun": False, "error": {"message": "password true refused"}})
    cleaned = json.loads(scrub_json(text, secrets))
    assert cleaned["ok"] is True
    assert cleaned["dryRun"] is False
    assert cleaned["error"]["message"] == "password *** refused"


def test_a_short_password_is_blanked_as_a_word_not_inside_words() -> None:
    secrets = secret_values("postgresql://app:app@db:5432/shop")
    text = "Last applied: app@db refused password app; happy app"
    assert scrub(text, secrets) == "Last applied: ***@db refused password ***; happy ***"


@pytest.mark.parametrize("password", ["password", "postgres", "app", "test"])
def test_a_common_password_leaves_the_names_that_contain_it_alone(password: str) -> None:
    """CI databases run with "password" or "postgres": migration names that hold the
    word stayed mangled in JSON and status (a script feeding .error.migration to
    repair found no such file), while the password itself must still go."""
    secrets = secret_values(f"postgresql://ci:{password}@db:5432/shop")
    names = f"0001_add_{password}_hash.sql, 0002_{password}-settings.sql"
    assert scrub(names, secrets) == names
    assert scrub(f'invalid value "{password}"', secrets) == 'invalid value "***"'


def test_a_long_or_unwordlike_password_is_blanked_wherever_it_is() -> None:
    secrets = secret_values("postgresql://ci:Zebra-Quartz-7319-secret@db/shop")
    assert scrub("xZebra-Quartz-7319-secretx", secrets) == "x***x"
    secrets = secret_values("postgresql://ci:s3cr3t%21@db/shop")
    assert scrub("xs3cr3t!x", secrets) == "x***x"
