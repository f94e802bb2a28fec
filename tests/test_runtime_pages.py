"""runtime.small_pages: every command runs with numpy's huge-page advice off (unless the user keeps it)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from click.testing import CliRunner

from msc_interop.cli import main
from msc_interop.runtime import small_pages

_switch = np._core.multiarray._set_madvise_hugepage  # returns the previous state


@pytest.fixture
def advice_restored() -> Iterator[None]:
    before = _switch(True)
    try:
        yield
    finally:
        _switch(before)


def test_small_pages_turns_numpy_advice_off(advice_restored: None) -> None:
    assert small_pages() is True  # it was on (the fixture turned it on)
    assert _switch(False) is False  # now off
    assert small_pages() is False  # nothing left to turn off


def test_the_user_may_keep_numpy_default(advice_restored: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "1")
    assert small_pages() is False
    assert _switch(True) is True  # still on


def test_every_command_starts_with_small_pages(advice_restored: None, tmp_path) -> None:
    result = CliRunner().invoke(main, ["synth", "--subjects", "2", "-o", str(tmp_path / "records")])
    assert result.exit_code == 0, result.output
    assert _switch(True) is False  # the group turned it off before the command ran
