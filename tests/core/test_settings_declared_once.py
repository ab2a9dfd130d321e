"""Each setting is declared once (its typed attribute); the catalogue is derived from the declarations; services
take their settings when they are built, once per settings."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from types import UnionType
from typing import Any, get_origin, get_type_hints

import pytest
from gateway_env import PUBLIC_BASE, SIGNING_KEY

from shared import process_state, public_urls, settings, throttle
from shared.settings import SETTINGS, GatewaySettings, Setting, SettingError
from shared.tokens import signing_keys

SETTINGS_MODULE = Path(settings.__file__)
ENVIRON = {
    "GATEWAY_PUBLIC_BASE_URL": PUBLIC_BASE,
    "TOKEN_SIGNING_KEY": SIGNING_KEY,
    "REGISTRY_CONNECTION_STRING": "UseDevelopmentStorage=true",
}


def test_the_catalogue_is_the_declarations_in_their_order() -> None:
    declared = [(name, value) for name, value in vars(GatewaySettings).items() if isinstance(value, Setting)]
    assert [setting for _, setting in declared] == list(SETTINGS)
    assert all(setting.name == attribute.upper() == setting.attribute.upper() for attribute, setting in declared)
    assert len({s.name for s in SETTINGS}) == len(SETTINGS) > 40


def test_settings_py_names_no_setting_as_a_string_and_asserts_no_type() -> None:
    """The name comes from the attribute: no second spelling of it can drift; and no type is asserted."""
    source = SETTINGS_MODULE.read_text(encoding="utf-8")
    strings = {n.value for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert not strings & {s.name for s in SETTINGS}
    assert "type: ignore" not in source and "cast(" not in source


def test_every_declaration_says_what_it_is_and_numbers_carry_their_limits() -> None:
    for setting in SETTINGS:
        assert len(setting.description) > 20, setting.name
        assert setting.required == (setting.default is None), setting.name
        if setting.minimum is not None:
            assert setting.parse(str(setting.minimum)) == setting.minimum
            with pytest.raises(SettingError, match=f"{setting.name} must be at least {setting.minimum}"):
                setting.parse(str(setting.minimum - 1))


def test_each_kind_declares_the_type_of_its_attribute_and_the_default_is_one() -> None:
    """The kind's return type is what mypy gives the attribute; the default (when there is one) is such a value."""
    for setting in SETTINGS:
        declared = get_type_hints(setting.kind)["return"]
        assert declared not in (object, Any), setting.name
        if setting.default is not None:
            runtime_type = declared if get_origin(declared) is UnionType else (get_origin(declared) or declared)
            assert isinstance(setting.parse(setting.default), runtime_type), setting.name


def test_a_value_is_parsed_once_and_then_read_as_a_plain_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    declaration = vars(GatewaySettings)["batch_max_entries"]
    parsed: list[str] = []
    kind = declaration.kind

    def counting(name: str, text: str) -> int:
        parsed.append(text)
        return kind(name, text)

    monkeypatch.setattr(declaration, "kind", counting)
    configured = GatewaySettings({**ENVIRON, "BATCH_MAX_ENTRIES": "12"})
    assert [configured.batch_max_entries for _ in range(3)] == [12, 12, 12]
    assert parsed == ["12"]
    assert vars(configured)["batch_max_entries"] == 12  # Python finds it before the declaration


def test_a_broken_setting_raises_on_every_read_and_cannot_be_written() -> None:
    configured = GatewaySettings({**ENVIRON, "THROTTLE_WINDOW_SECONDS": "soon"})
    for _ in range(2):
        with pytest.raises(SettingError, match="THROTTLE_WINDOW_SECONDS must be a whole number"):
            configured.throttle_window_seconds  # noqa: B018 - reading it is the test
    with pytest.raises(AttributeError, match="read-only"):
        configured.throttle_window_seconds = 5
    assert "throttle_window_seconds" not in vars(configured)


def test_a_service_is_built_once_per_settings_and_again_after_a_reload(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[settings.GatewaySettings] = []
    discarded: list[int] = []

    def build(configured: settings.GatewaySettings) -> int:
        built.append(configured)
        return configured.batch_max_entries

    service = settings.per_settings(build, discard=discarded.append)
    assert [service() for _ in range(3)] == [50, 50, 50] and built == [settings.current()]
    monkeypatch.setenv("BATCH_MAX_ENTRIES", "9")  # the tests' monkeypatch reloads the settings
    assert service() == 9 and len(built) == 2 and built[-1] is settings.current()
    assert discarded == [50]  # the value built from the old settings was released
    service.forget()
    assert not service.is_built and discarded == [50, 9]


def test_a_build_that_fails_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THROTTLE_WINDOW_SECONDS", "-5")
    with pytest.raises(SettingError, match="THROTTLE_WINDOW_SECONDS must be at least 1"):
        throttle.limits()
    assert not throttle.limits.is_built
    monkeypatch.setenv("THROTTLE_WINDOW_SECONDS", "60")
    assert throttle.limits().window_seconds == 60.0


def test_a_named_service_is_dropped_by_a_process_reset() -> None:
    first = signing_keys.key_ring()
    assert signing_keys.key_ring() is first and "tokens.key_ring" in process_state.registered()
    process_state.reset()
    assert not signing_keys.key_ring.is_built
    assert signing_keys.key_ring() is not first and signing_keys.key_ring().signing_kid == first.signing_kid


@pytest.mark.parametrize(
    ("service", "attribute"),
    [(public_urls.urls, "token"), (throttle.limits, "window_seconds")],
    ids=["public_urls", "throttle"],
)
def test_the_modules_take_their_settings_when_built(
    monkeypatch: pytest.MonkeyPatch, service: Callable[[], object], attribute: str
) -> None:
    first = service()
    assert service() is first
    before = getattr(first, attribute)
    monkeypatch.setenv("GATEWAY_PUBLIC_BASE_URL", "https://elsewhere.example")
    monkeypatch.setenv("THROTTLE_WINDOW_SECONDS", "77")
    assert service() is not first and getattr(service(), attribute) != before
