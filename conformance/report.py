"""The checker's findings as a readable report (one line per call and field) or as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    PASS = "PASS"  # noqa: S105 - a verdict, not a password
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Finding:
    """One line of the report: a call (with its HTTP status and timing) or a check on what came back."""

    verdict: Verdict
    subject: str  # "GET Patient/665677", or what was checked ("metadata", "Observation")
    message: str = ""
    http_status: int | None = None
    elapsed_ms: float | None = None

    def line(self) -> str:
        if self.elapsed_ms is not None:
            status = self.http_status if self.http_status is not None else "---"
            text = f"{self.verdict.value:<5} {self.subject} {status} {self.elapsed_ms:.0f} ms"
            return text + (f" - {self.message}" if self.message else "")
        return f"{self.verdict.value:<5} {self.subject}: {self.message}"


@dataclass
class Report:
    """Everything one run found, in the order it was found."""

    target: str
    mode: str  # "gateway" or "provider"
    fhir_version: str = ""
    version: str = ""
    findings: list[Finding] = field(default_factory=list)
    title: str = ""  # the report's first words; empty: "Patients app conformance of <mode>"

    def add(
        self,
        verdict: Verdict,
        subject: str,
        message: str = "",
        http_status: int | None = None,
        elapsed_ms: float | None = None,
    ) -> Finding:
        finding = Finding(verdict, subject, message, http_status, elapsed_ms)
        self.findings.append(finding)
        return finding

    def count(self, verdict: Verdict) -> int:
        return sum(1 for f in self.findings if f.verdict is verdict)

    @property
    def passed(self) -> bool:
        return self.count(Verdict.FAIL) == 0

    def summary(self) -> str:
        return (
            f"{self.count(Verdict.PASS)} passed, {self.count(Verdict.WARN)} warnings, {self.count(Verdict.FAIL)} failed"
        )

    def as_text(self) -> str:
        announced = f" - {self.version} ({self.fhir_version})" if self.version else ""
        title = self.title or f"Patients app conformance of {self.mode}"
        lines = [f"{title} {self.target}{announced}", ""]
        lines += [f.line() for f in self.findings]
        lines += ["", f"{'PASSED' if self.passed else 'FAILED'}: {self.summary()}"]
        return "\n".join(lines)

    def as_json(self) -> str:
        document: dict[str, Any] = {
            "target": self.target,
            "mode": self.mode,
            **({"title": self.title} if self.title else {}),
            "fhirVersion": self.fhir_version,
            "version": self.version,
            "passed": self.passed,
            "summary": {v.value.lower(): self.count(v) for v in Verdict},
            "findings": [{**asdict(f), "verdict": f.verdict.value} for f in self.findings],
        }
        return json.dumps(document, indent=2)
