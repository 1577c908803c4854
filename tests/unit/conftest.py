"""Fixtures for the pure domain tests (no database)."""

from __future__ import annotations

import pytest
from domain_builders import new_case, new_commitment

from cases.case import Case
from cases.commitment import Commitment


@pytest.fixture
def commitment() -> Commitment:
    """A freshly made commitment whose Made event has already been collected."""
    c = new_commitment()
    c.collect_events()
    return c


@pytest.fixture
def case() -> Case:
    """A freshly raised case whose Raised event has already been collected."""
    c = new_case()
    c.collect_events()
    return c
