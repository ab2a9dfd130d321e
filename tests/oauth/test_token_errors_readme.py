"""The README's table of token endpoint errors says what the OAuthError classes answer: code, status, headers."""

from __future__ import annotations

import re
from pathlib import Path

from shared.error_tables import answer
from shared.oauth import errors
from shared.oauth.answers import TOKEN_ANSWERS
from shared.oauth.errors import OAuthError, UnsupportedResponseType
from shared.registry.errors import MisconfiguredEntity, RegistryUnavailable
from shared.settings import SettingError

README = Path(__file__).resolve().parents[2] / "README.md"
# Every error class of shared.oauth.errors but the authorize endpoint's one is the token endpoint's.
TOKEN_ERRORS = [
    cls
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, OAuthError) and cls not in (OAuthError, UnsupportedResponseType)
]
# What the token endpoint's failure table answers the registry's and the settings' errors with.
DOMAIN_EXAMPLES = [
    RegistryUnavailable("unreachable"),
    MisconfiguredEntity("Tenants", "t", "provider", "X", "is bad"),
    SettingError("app setting X is malformed"),
]


def _readme_rows() -> dict[str, str]:
    text = README.read_text()
    section = text.split("Errors follow RFC 6749 §5.2", 1)[1]
    table = section[section.index("\n| error | status | when |") + 1 :].split("\n\n", 1)[0]
    rows = {}
    for line in table.splitlines()[2:]:
        code, status, _ = (cell.strip() for cell in line.strip("|").split("|", 2))
        rows[code.strip("`")] = status
    return rows


def _instance(cls: type[OAuthError]) -> OAuthError:
    return cls()


def test_the_readme_lists_every_token_endpoint_error_code_once() -> None:
    table_codes = {_instance(cls).error for cls in TOKEN_ERRORS}
    assert set(_readme_rows()) == table_codes
    assert {answer(TOKEN_ANSWERS, error).error for error in DOMAIN_EXAMPLES} <= table_codes


def test_each_readme_status_and_header_is_the_classes() -> None:
    rows = _readme_rows()
    for code, cell in rows.items():
        classes = [cls for cls in TOKEN_ERRORS if cls.error == code]
        statuses = [int(n) for n in re.findall(r"\b(\d{3})\b", cell)]
        assert sorted(set(statuses)) == sorted({cls.status_code for cls in classes}), code
        # The first status named is the code's own class (the others are its subclasses, e.g. 413).
        assert statuses[0] == min(classes, key=lambda c: len(c.__mro__)).status_code, code
        for header in ("WWW-Authenticate", "Retry-After"):
            sent = {header in _instance(cls).headers() for cls in classes}
            assert sent == {f"`{header}" in cell}, (code, header)
