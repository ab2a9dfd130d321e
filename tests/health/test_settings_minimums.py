"""Whole-number settings are checked against the catalogue's minimums, the same ones for the code and /health."""

from __future__ import annotations

import pytest

from shared import settings
from shared.settings import SETTINGS, Setting

WHOLE_NUMBERS = [s for s in SETTINGS if s.minimum is not None]


@pytest.fixture(autouse=True)
def registry_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every other setting valid, the registry's included: a run sets it only once a table_storage test has
    started Azurite, and a run of `-m "not slow"` starts none."""
    monkeypatch.setenv("REGISTRY_TABLE_ENDPOINT", "https://registry.table.core.windows.net")


def test_every_catalogued_number_has_a_numeric_default() -> None:
    for setting in SETTINGS:
        if setting.minimum is not None:
            assert setting.default is not None and int(setting.default) >= setting.minimum, setting.name


@pytest.mark.parametrize("setting", WHOLE_NUMBERS, ids=lambda s: s.name)
def test_a_number_below_the_catalogue_minimum_is_refused_where_it_is_read_and_on_health(
    monkeypatch: pytest.MonkeyPatch, setting: Setting
) -> None:
    assert setting.minimum is not None
    monkeypatch.setenv(setting.name, str(setting.minimum - 1))
    problem = f"app setting {setting.name} must be at least {setting.minimum}"
    with pytest.raises(settings.SettingError, match=problem):
        getattr(settings.current(), setting.name.lower())
    assert settings.current().problems == (problem,)


@pytest.mark.parametrize("setting", WHOLE_NUMBERS, ids=lambda s: s.name)
def test_the_catalogue_minimum_itself_is_accepted(monkeypatch: pytest.MonkeyPatch, setting: Setting) -> None:
    assert setting.minimum is not None
    monkeypatch.setenv(setting.name, f" {setting.minimum} ")
    assert getattr(settings.current(), setting.name.lower()) == setting.minimum
    assert settings.current().problems == ()
