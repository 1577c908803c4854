"""The bench's data set is played through the real aggregates, so a change to a
command's arguments must show here, not halfway through a 200,000-event bench run."""

from __future__ import annotations

from collections import Counter

from bench.dataset import generate
from projection_helpers import MUNICIPALITY

from cases.application import TequioApplication


def test_the_simulated_history_reaches_the_assemblys_word_on_fulfilled_work(
    app: TequioApplication,
) -> None:
    summary = generate(app, municipality=MUNICIPALITY, target_events=6_000, say=lambda _: None)

    topics = Counter(
        n.topic.rsplit(".", 1)[-1]
        for n in app.recorder.select_notifications(start=1, limit=summary.events + 10)
    )
    assert summary.events >= 6_000
    assert topics["Validated"] > 0
    assert topics["Disputed"] > 0
    assert topics["FulfilmentReported"] > topics["Validated"]
