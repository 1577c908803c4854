"""Settings a server must refuse, and the defaults that follow TEQUIO_ENV."""

from __future__ import annotations

import base64
import logging
import os
import sys
from datetime import timedelta

import pytest
from pydantic import ValidationError

from integrations.webhooks.config import WebhookConfig
from tequio.cli import main
from tequio.settings import DEVELOPMENT_SECRET, Settings, tune_interpreter

STRONG_SECRET = "s" * 32
AES_256 = base64.b64encode(bytes(range(32))).decode()
OIDC = {
    "TEQUIO_OIDC_JWKS_URL": "https://sso.example.org/realms/tequio/protocol/openid-connect/certs",
    "TEQUIO_OIDC_ISSUER": "https://sso.example.org/realms/tequio",
    "TEQUIO_OIDC_AUDIENCE": "tequio-api",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets counts, not the environment the suite runs in."""
    for name in list(os.environ):
        if name.startswith("TEQUIO_"):
            monkeypatch.delenv(name)


def production(**values: str) -> Settings:
    return Settings(TEQUIO_ENV="production", **values)


def refusal(**values: str) -> str:
    with pytest.raises(ValidationError) as caught:
        Settings(**values)
    return str(caught.value)


# -- production ---------------------------------------------------------------------------


def test_production_refuses_the_development_secret_without_oidc() -> None:
    message = refusal(TEQUIO_ENV="production", TEQUIO_CIPHER_KEY=AES_256)
    assert "refusing to run in production" in message
    assert "TEQUIO_SECRET must be at least 32 random bytes" in message
    # The same secret is fine for development.
    assert Settings().secret.get_secret_value() == DEVELOPMENT_SECRET


def test_production_refuses_a_secret_shorter_than_32_bytes() -> None:
    message = refusal(TEQUIO_ENV="production", TEQUIO_SECRET="s" * 31, TEQUIO_CIPHER_KEY=AES_256)
    assert "TEQUIO_SECRET" in message
    assert "s" * 31 not in message  # the secret itself is never echoed
    settings = production(TEQUIO_SECRET=STRONG_SECRET, TEQUIO_CIPHER_KEY=AES_256)
    # With no identity provider, the strong secret's tokens are how staff sign in.
    assert settings.accepts_development_tokens


def test_production_with_oidc_needs_no_secret_and_takes_no_development_tokens() -> None:
    settings = production(TEQUIO_CIPHER_KEY=AES_256, **OIDC)
    assert settings.oidc_enabled
    assert not settings.accepts_development_tokens
    assert Settings(**OIDC).accepts_development_tokens  # development takes both


def test_production_refuses_to_run_without_a_cipher_key() -> None:
    message = refusal(TEQUIO_ENV="production", TEQUIO_SECRET=STRONG_SECRET)
    assert "TEQUIO_CIPHER_KEY is required" in message
    assert "TEQUIO_SECRET" not in message


def test_production_names_every_problem_at_once() -> None:
    message = refusal(TEQUIO_ENV="production")
    assert "TEQUIO_SECRET" in message and "TEQUIO_CIPHER_KEY" in message


def test_production_fetches_provider_keys_only_over_https() -> None:
    plain = {**OIDC, "TEQUIO_OIDC_JWKS_URL": "http://sso.example.org/certs"}
    message = refusal(TEQUIO_ENV="production", TEQUIO_CIPHER_KEY=AES_256, **plain)
    assert "TEQUIO_OIDC_JWKS_URL must be an https:// URL" in message
    assert Settings(**plain).oidc_jwks_url == "http://sso.example.org/certs"


# -- in every environment -------------------------------------------------------------------


@pytest.mark.parametrize("size", [16, 24, 32])
def test_a_base64_aes_key_of_16_24_or_32_bytes_is_accepted(size: int) -> None:
    key = base64.b64encode(bytes(size)).decode()
    settings = Settings(TEQUIO_CIPHER_KEY=key)
    assert settings.cipher_key is not None
    assert settings.cipher_key.get_secret_value() == key


@pytest.mark.parametrize(
    ("key", "complaint"),
    [
        ("not base64 at all!", "not base64"),
        (base64.b64encode(bytes(20)).decode(), "decodes to 20 bytes"),
        (base64.b64encode(bytes(64)).decode(), "decodes to 64 bytes"),
        ("", "decodes to 0 bytes"),
    ],
)
def test_a_cipher_key_that_is_not_an_aes_key_is_refused_even_in_development(
    key: str, complaint: str
) -> None:
    message = refusal(TEQUIO_CIPHER_KEY=key)
    assert "TEQUIO_CIPHER_KEY" in message and complaint in message
    assert key not in message or not key  # the key itself is never echoed


def test_oidc_needs_url_issuer_and_audience_together() -> None:
    message = refusal(TEQUIO_OIDC_JWKS_URL=OIDC["TEQUIO_OIDC_JWKS_URL"])
    assert "TEQUIO_OIDC_ISSUER" in message and "TEQUIO_OIDC_AUDIENCE" in message
    assert "TEQUIO_OIDC_JWKS_URL" in refusal(TEQUIO_OIDC_ISSUER="https://sso.example.org")
    assert "http" in refusal(**{**OIDC, "TEQUIO_OIDC_JWKS_URL": "file:///etc/jwks.json"})


def test_oidc_algorithms_are_read_comma_separated_and_only_public_key_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().oidc_algorithms == ["RS256", "ES256"]
    monkeypatch.setenv("TEQUIO_OIDC_ALGORITHMS", "RS256, PS256")
    assert Settings().oidc_algorithms == ["RS256", "PS256"]
    for refused in ("HS256", "none", "RS256,HS512", ""):
        monkeypatch.setenv("TEQUIO_OIDC_ALGORITHMS", refused)
        with pytest.raises(ValidationError, match="TEQUIO_OIDC_ALGORITHMS"):
            Settings()


def test_graphiql_and_introspection_follow_the_environment_unless_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    development = Settings()
    assert (development.graphiql, development.introspection) == (True, True)
    safe = {"TEQUIO_SECRET": STRONG_SECRET, "TEQUIO_CIPHER_KEY": AES_256}
    prod = production(**safe)
    assert (prod.graphiql, prod.introspection) == (False, False)
    monkeypatch.setenv("TEQUIO_INTROSPECTION", "true")
    prod = production(**safe)
    assert (prod.graphiql, prod.introspection) == (False, True)
    monkeypatch.setenv("TEQUIO_GRAPHIQL", "false")
    assert Settings().graphiql is False


def test_limits_have_safe_defaults_and_bounds() -> None:
    settings = Settings()
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.rate_limit_per_minute == 600
    assert "TEQUIO_RATE_LIMIT_PER_MINUTE" in refusal(TEQUIO_RATE_LIMIT_PER_MINUTE="-1")
    assert "TEQUIO_MAX_BODY_BYTES" in refusal(TEQUIO_MAX_BODY_BYTES="10")
    assert settings.rate_limit_share_seconds == 1.0
    for bad in ("-1", "61", "often"):
        assert "TEQUIO_RATE_LIMIT_SHARE_SECONDS" in refusal(TEQUIO_RATE_LIMIT_SHARE_SECONDS=bad)


def test_the_webhook_log_keeps_delivered_rows_a_month_unless_set_within_bounds() -> None:
    assert Settings().webhook_keep_days == 30
    assert WebhookConfig.from_settings(Settings()).keep == timedelta(days=30)
    for bad in ("0", "-1", "3651", "forever"):
        assert "TEQUIO_WEBHOOK_KEEP_DAYS" in refusal(TEQUIO_WEBHOOK_KEEP_DAYS=bad)


# -- the command line -------------------------------------------------------------------------


def test_the_cli_refuses_unsafe_production_settings_plainly_with_exit_code_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEQUIO_ENV", "production")
    assert main(["token", "--sub", "admin", "--role", "admin"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("tequio: bad configuration: refusing to run in production: ")
    assert "TEQUIO_SECRET" in err and "TEQUIO_CIPHER_KEY" in err
    for jargon in ("Traceback", "pydantic", "Value error", "validation error"):
        assert jargon not in err


def test_the_cli_names_the_variable_of_a_bad_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEQUIO_CIPHER_KEY", "c2hvcnQ=")  # "short"
    assert main(["token", "--sub", "admin", "--role", "admin"]) == 2
    assert capsys.readouterr().err.strip() == (
        "tequio: bad configuration: TEQUIO_CIPHER_KEY: decodes to 5 bytes; "
        "an AES key has 16, 24 or 32"
    )


def test_the_schema_prints_whatever_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEQUIO_ENV", "production")
    assert main(["schema"]) == 0
    assert "type Query {" in capsys.readouterr().out


def test_server_threads_take_short_gil_turns_by_default_and_it_can_be_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = sys.getswitchinterval()
    try:
        tune_interpreter(Settings())
        assert sys.getswitchinterval() == pytest.approx(0.0005)
        monkeypatch.setenv("TEQUIO_SWITCH_INTERVAL_MS", "5")
        tune_interpreter(Settings())
        assert sys.getswitchinterval() == pytest.approx(0.005)
    finally:
        sys.setswitchinterval(before)


@pytest.mark.parametrize("value", ["0", "-1", "1000", "fast"])
def test_a_switch_interval_out_of_range_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("TEQUIO_SWITCH_INTERVAL_MS", value)
    with pytest.raises(ValidationError, match="TEQUIO_SWITCH_INTERVAL_MS"):
        Settings()


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_serve_refuses_a_number_of_server_processes_below_one(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["serve", "--workers", value])
    assert stopped.value.code == 2
    assert "--workers" in capsys.readouterr().err


def test_serve_keeps_the_read_models_in_a_worker_process_unless_told_a_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().projections == "process"
    monkeypatch.setenv("TEQUIO_PROJECTIONS", "thread")
    assert Settings().projections == "thread"
    monkeypatch.setenv("TEQUIO_PROJECTIONS", "fork")
    with pytest.raises(ValidationError, match="TEQUIO_PROJECTIONS"):
        Settings()


def test_the_log_level_is_read_in_any_case_and_a_bad_one_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEQUIO_LOG_LEVEL", "warning")
    assert Settings().log_level == "WARNING"
    monkeypatch.setenv("TEQUIO_LOG_LEVEL", "verbose")
    with pytest.raises(ValidationError, match="TEQUIO_LOG_LEVEL"):
        Settings()


def test_the_log_level_applies_to_tequios_own_loggers(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    before = (root.level, sys.getswitchinterval())
    try:
        monkeypatch.setenv("TEQUIO_LOG_LEVEL", "ERROR")
        tune_interpreter(Settings())
        assert not logging.getLogger("tequio.projections").isEnabledFor(logging.WARNING)
        assert logging.getLogger("tequio.projections").isEnabledFor(logging.ERROR)
    finally:
        root.setLevel(before[0])
        sys.setswitchinterval(before[1])


def test_the_demo_says_a_bad_setting_plainly_with_exit_code_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEQUIO_LOCK_TIMEOUT", "0")
    assert main(["demo"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tequio: bad configuration: TEQUIO_LOCK_TIMEOUT: ")
    assert "pydantic" not in err and "validation error" not in err


def test_the_environment_is_read_in_any_case() -> None:
    assert Settings(TEQUIO_ENV=" Development ").environment == "development"


def test_an_empty_secret_is_refused_rather_than_failing_every_token() -> None:
    assert "must not be empty" in refusal(TEQUIO_SECRET="  ")


def test_a_blank_municipality_is_refused() -> None:
    assert "must name the municipality" in refusal(TEQUIO_MUNICIPALITY=" ")


def test_a_municipality_with_a_trailing_newline_is_refused_not_changed() -> None:
    # Part of every id: read from a file, "iztapalapa\n" would be another municipality.
    assert "must not begin or end with spaces" in refusal(TEQUIO_MUNICIPALITY="iztapalapa\n")
