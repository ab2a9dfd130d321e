"""OperationOutcome bodies and the FhirError exception that carries an HTTP status."""

from __future__ import annotations

from typing import Any


def operation_outcome(diagnostics: str, code: str = "processing", severity: str = "error") -> dict[str, Any]:
    """A one-issue OperationOutcome (same shape in DSTU2 and STU3)."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


class FhirError(Exception):
    """An error answered with `status` and an OperationOutcome."""

    def __init__(
        self, status: int, diagnostics: str, code: str = "processing", headers: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics
        self.code = code
        self.headers = headers or []

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.diagnostics, self.code)
