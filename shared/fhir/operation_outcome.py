"""FHIR errors as data: OperationOutcome resources built from two small enums."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class IssueSeverity(StrEnum):
    FATAL = "fatal"
    ERROR = "error"
    WARNING = "warning"
    INFORMATION = "information"


class IssueType(StrEnum):
    INVALID = "invalid"
    SECURITY = "security"
    LOGIN = "login"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not-found"
    NOT_SUPPORTED = "not-supported"
    TOO_COSTLY = "too-costly"
    EXCEPTION = "exception"
    TIMEOUT = "timeout"
    TRANSIENT = "transient"
    THROTTLED = "throttled"


def operation_outcome(
    issue_type: IssueType, diagnostics: str, severity: IssueSeverity = IssueSeverity.ERROR
) -> dict[str, Any]:
    """An OperationOutcome with one issue; valid in DSTU2, STU3 and R4 alike."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity.value, "code": issue_type.value, "diagnostics": diagnostics}],
    }
