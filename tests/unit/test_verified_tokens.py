"""A bearer token's signature is checked once, then trusted until the token expires."""

from __future__ import annotations

import time

import pytest

from api.auth import Authenticator, InvalidToken, mint_token
from tequio.settings import Settings

SECRET = "s" * 40


class Wall:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def authenticator(monkeypatch: pytest.MonkeyPatch, wall: Wall) -> tuple[Authenticator, list[str]]:
    auth = Authenticator(
        Settings(TEQUIO_SECRET=SECRET, TEQUIO_MUNICIPALITY="iztapalapa"), wall=wall
    )
    checked: list[str] = []
    verify = auth._verify

    async def counting(token: str) -> object:
        checked.append(token)
        return await verify(token)

    monkeypatch.setattr(auth, "_verify", counting)
    return auth, checked


def token(lifetime: int = 3600, subject: str = "lucia") -> str:
    return mint_token(
        SECRET,
        subject=subject,
        roles=["agency_staff"],
        municipality="iztapalapa",
        agency_id="obras",
        lifetime_seconds=lifetime,
    )


async def test_a_token_is_checked_once_while_it_lasts(monkeypatch: pytest.MonkeyPatch) -> None:
    auth, checked = authenticator(monkeypatch, Wall())
    lucia = token()
    first = await auth.authenticate(lucia)
    again = await auth.authenticate(lucia)
    assert again == first and first.agency_id == "obras"
    assert checked == [lucia]
    await auth.authenticate(token(subject="pedro"))
    assert len(checked) == 2


async def test_past_its_expiry_a_token_is_checked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    wall = Wall()
    auth, checked = authenticator(monkeypatch, wall)
    lucia = token(lifetime=60)
    await auth.authenticate(lucia)
    wall.now += 61
    await auth.authenticate(lucia)  # still good by the real clock: checked, not trusted
    assert checked == [lucia, lucia]


async def test_a_refused_token_is_refused_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    auth, checked = authenticator(monkeypatch, Wall())
    expired = token(lifetime=-10)
    for _ in range(2):
        with pytest.raises(InvalidToken, match="expired"):
            await auth.authenticate(expired)
    forged = token()[:-4] + "AAAA"
    for _ in range(2):
        with pytest.raises(InvalidToken):
            await auth.authenticate(forged)
    assert len(checked) == 4
