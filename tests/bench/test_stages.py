"""bench/stages.py's table must name functions that exist: a refactor that moves one has to
move the name too, or the stage profile in `make bench` would lose that time to "the rest"."""

from __future__ import annotations

import pytest

from bench import stages


@pytest.mark.parametrize("kind", sorted(stages.STAGES))
def test_every_named_function_exists(kind):
    resolved = stages.resolve(kind)
    assert {stage for stage, _ in resolved} == {stage for stage, _ in stages.STAGES[kind]}


def test_a_missing_function_fails_loudly(monkeypatch):
    monkeypatch.setitem(stages.STAGES, "tool", (("gate", ("deskwoot.mcp.gate:no_such_function",)),))
    with pytest.raises(stages.StageTableError, match="no_such_function"):
        stages.resolve("tool")


def test_the_timers_come_off_again():
    from deskwoot.mcp import invocation, transport

    before = (transport._serve, invocation._run, transport.json_response)
    clock = stages.StageClock()
    clock.install("tool")
    assert transport._serve is not before[0]
    assert transport.json_response is not before[2]  # imported by name: wrapped there too
    clock.uninstall()
    assert (transport._serve, invocation._run, transport.json_response) == before
