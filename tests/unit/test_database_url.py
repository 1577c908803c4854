"""DATABASE_URL: what Tequio reads from it, and what it refuses rather than ignore."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tequio.database import ConnectionInfo, DatabaseUnavailable


def test_a_url_gives_host_port_user_password_and_database() -> None:
    info = ConnectionInfo.from_url("postgresql://tequio:s%40cret@db.example:6543/tequio")
    assert (info.host, info.port, info.user, info.password, info.dbname) == (
        "db.example",
        6543,
        "tequio",
        "s@cret",
        "tequio",
    )


def test_a_unix_socket_is_given_as_the_host_parameter() -> None:
    info = ConnectionInfo.from_url("postgresql://postgres@/tequio?host=/run/pg&port=5433")
    assert (info.host, info.port) == ("/run/pg", 5433)


def test_an_ssl_mode_in_the_url_is_refused_and_the_variable_to_use_is_named() -> None:
    # Dropped in silence, verify-full would connect without checking the server.
    with pytest.raises(DatabaseUnavailable) as refused:
        ConnectionInfo.from_url("postgresql://u:p@db.example/tequio?sslmode=verify-full")
    assert "PGSSLMODE=verify-full" in str(refused.value)
    assert "defina PGSSLMODE=verify-full" in refused.value.message("es")


def test_a_parameter_tequio_does_not_read_is_refused() -> None:
    with pytest.raises(DatabaseUnavailable, match="'keepalives'"):
        ConnectionInfo.from_url("postgresql://u:p@db.example/tequio?keepalives=1")


@pytest.mark.parametrize(
    "url", ["postgresql://u:p@db.example:five/tequio", "postgresql://u@/t?host=/run&port=x"]
)
def test_a_port_that_is_not_a_number_is_said_plainly(url: str) -> None:
    with pytest.raises(DatabaseUnavailable, match="port must be a number"):
        ConnectionInfo.from_url(url)


def test_a_host_and_port_without_a_scheme_are_told_to_name_one() -> None:
    with pytest.raises(DatabaseUnavailable, match="it names no scheme"):
        ConnectionInfo.from_url("localhost:5432")


@given(
    user=st.text(min_size=1, max_size=20).filter(lambda u: "\x00" not in u),
    password=st.text(max_size=30).filter(lambda p: "\x00" not in p),
    host=st.sampled_from(["db.example", "127.0.0.1", "::1", "fe80::1", "/run/postgresql"]),
    port=st.integers(1, 65535),
    dbname=st.text(min_size=1, max_size=20).filter(lambda d: "\x00" not in d),
)
def test_a_connection_s_own_url_reads_back_as_the_same_connection(
    user: str, password: str, host: str, port: int, dbname: str
) -> None:
    # `serve` hands its database to its workers as a URL: a provider's password with
    # ?, # or @ in it, or an IPv6 host, must come back unchanged.
    info = ConnectionInfo(host, port, user, password, dbname)
    assert ConnectionInfo.from_url(info.url()) == info
