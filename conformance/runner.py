"""Behaves like the Patients app against one FHIR base: metadata, token, patient searches, read, batch, fields."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests

from conformance.checks import DSTU2, R4, STU3, check_fields, check_shapes, version_of_patient_shape
from conformance.report import Report, Verdict

OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
SECURITY_SERVICE_SYSTEM = "http://hl7.org/fhir/restful-security-service"
MEDIA_TYPES = {DSTU2: "application/json+fhir", STU3: "application/fhir+json", R4: "application/fhir+json"}
STATEMENT_TYPES = {DSTU2: "Conformance", STU3: "CapabilityStatement", R4: "CapabilityStatement"}
MEDICATION_TYPES = {DSTU2: "MedicationOrder", STU3: "MedicationRequest", R4: "MedicationRequest"}
VERSIONS = (DSTU2, STU3, R4)
SEARCH_COUNT = "10"


@dataclass(frozen=True)
class Target:
    """Where to check and how to get in: a gateway (OAuth client credentials) or a provider (optional bearer)."""

    fhir_base: str
    mode: str  # "gateway" | "provider"
    client_id: str = ""
    client_secret: str = ""
    tenant: str = ""
    bearer_token: str = ""
    patient_id: str = ""
    timeout: float = 30.0
    # The version the client speaks: None is the Patients app (DSTU2 or STU3, as the metadata announces); a
    # version (R4 for an R4 client) makes the same calls in that version and requires the base to announce it.
    version: str | None = None


def version_of(fhir_version: str) -> str | None:
    """DSTU2 for 1.0.x, STU3 for 3.0.x, R4 for 4.0.x (R4B's 4.3.x read as R4)."""
    if fhir_version.startswith("1.0."):
        return DSTU2
    if fhir_version.startswith("3.0."):
        return STU3
    if fhir_version.startswith(("4.0.", "4.3.")):
        return R4
    return None


def version_of_base(fhir_base: str) -> str | None:
    """The version a gateway's versioned base names in its path (…/fhir/R4 is R4), else None."""
    last = fhir_base.rstrip("/").rsplit("/", 1)[-1]
    return last if last in VERSIONS else None


def _worst(problems: list[tuple[Verdict, str]]) -> Verdict:
    verdicts = {verdict for verdict, _ in problems}
    return Verdict.FAIL if Verdict.FAIL in verdicts else Verdict.WARN if Verdict.WARN in verdicts else Verdict.PASS


def _searchset_entries(bundle: Any, resource_type: str) -> list[dict[str, Any]]:
    entries = (bundle.get("entry") or []) if isinstance(bundle, dict) else []
    return [
        e["resource"]
        for e in entries
        if isinstance(e, dict)
        and isinstance(e.get("resource"), dict)
        and e["resource"].get("resourceType") == resource_type
    ]


def _diagnostics(outcome: Any) -> str:
    issues = outcome.get("issue") if isinstance(outcome, dict) else None
    if isinstance(issues, list) and issues and isinstance(issues[0], dict):
        return str(issues[0].get("diagnostics") or issues[0].get("code") or "")
    return ""


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


class Run:
    """One conformance run: each step adds findings to `report` and stops the run when the next cannot work."""

    def __init__(self, target: Target, session: requests.Session) -> None:
        self.target = target
        self.base = target.fhir_base.rstrip("/")
        self.session = session
        self.report = Report(self.base, target.mode)
        if target.version == R4:  # not the Patients app (DSTU2 or STU3): an R4 client making the same calls
            self.report.title = f"R4 client (the Patients app's calls) conformance of {target.mode}"
        self.version = ""
        self.statement: dict[str, Any] = {}
        self.token_url = ""
        self.authorization: dict[str, str] = (
            {"Authorization": f"Bearer {target.bearer_token}"} if target.bearer_token else {}
        )

    # -- HTTP --------------------------------------------------------------------------------------
    def _send(self, method: str, url: str, subject: str, **kwargs: Any) -> tuple[requests.Response | None, float]:
        started = time.perf_counter()
        try:
            response = self.session.request(method, url, timeout=self.target.timeout, allow_redirects=False, **kwargs)
        except requests.RequestException as error:
            elapsed = (time.perf_counter() - started) * 1000
            self.report.add(Verdict.FAIL, subject, f"no answer: {type(error).__name__}", None, elapsed)
            return None, elapsed
        return response, (time.perf_counter() - started) * 1000

    def _fhir(self, method: str, relative: str, subject: str, **kwargs: Any) -> tuple[requests.Response | None, float]:
        headers = {
            "Accept": MEDIA_TYPES.get(self.version, "application/fhir+json"),
            **self.authorization,
            **kwargs.pop("headers", {}),
        }
        url = f"{self.base}/{relative}" if relative else self.base
        return self._send(method, url, subject, headers=headers, **kwargs)

    def _json(self, response: requests.Response, problems: list[tuple[Verdict, str]]) -> Any:
        try:
            return response.json()
        except ValueError:
            problems.append((Verdict.FAIL, f"the answer is not JSON ({response.headers.get('Content-Type')})"))
            return None

    def _media_type(self, response: requests.Response, problems: list[tuple[Verdict, str]]) -> None:
        content_type = response.headers.get("Content-Type") or ""
        received = content_type.split(";")[0].strip().lower()
        for parameter in content_type.split(";")[1:]:
            name, _, value = parameter.partition("=")
            said = version_of(value.strip() + ".") if name.strip().lower() == "fhirversion" else None
            if said is not None and said != self.version:
                problems.append(
                    (Verdict.FAIL, f"answered fhirVersion={value.strip()}, but the metadata announces {self.version}")
                )
        for version, media in MEDIA_TYPES.items():
            if received == media and media != MEDIA_TYPES.get(self.version):  # STU3 and R4 share theirs
                problems.append(
                    (
                        Verdict.WARN,
                        f"answered {received}, the {version} media type, but the metadata announces {self.version}",
                    )
                )

    def _record(
        self,
        subject: str,
        response: requests.Response,
        elapsed: float,
        problems: list[tuple[Verdict, str]],
        success: str,
    ) -> Verdict:
        verdict = _worst(problems)
        message = "; ".join(text for _, text in problems) or success
        self.report.add(verdict, subject, message, response.status_code, elapsed)
        return verdict

    # -- steps -------------------------------------------------------------------------------------
    def run(self) -> Report:
        if not self.read_metadata():
            return self.report
        if self.target.mode == "gateway" and not self.get_token():
            return self.report
        patient = self.find_patient()
        if patient is None:
            return self.report
        self.search_patients(patient)
        self.per_patient_queries(str(patient["id"]))
        return self.report

    def read_metadata(self) -> bool:
        subject = "GET metadata"
        response, elapsed = self._send(
            "GET", f"{self.base}/metadata", subject, headers={"Accept": "application/fhir+json, application/json+fhir"}
        )
        if response is None:
            return False
        problems: list[tuple[Verdict, str]] = []
        statement = self._json(response, problems) if response.status_code == 200 else None
        if response.status_code != 200:
            hint = (
                f"no CapabilityStatement at {self.base}/metadata; --gateway takes the FHIR base (…/fhir)"
                if response.status_code == 404 and self.target.mode == "gateway"
                else "no CapabilityStatement"
            )
            problems.append(
                (
                    Verdict.FAIL,
                    "the metadata must be readable without a token" if response.status_code in (401, 403) else hint,
                )
            )
        elif isinstance(statement, dict) and statement.get("resourceType") not in STATEMENT_TYPES.values():
            problems.append((Verdict.FAIL, f"a {statement.get('resourceType')}, not a CapabilityStatement"))
        fhir_version = str(statement.get("fhirVersion", "")) if isinstance(statement, dict) else ""
        version = version_of(fhir_version)
        wanted = self.target.version
        if isinstance(statement, dict) and not problems and wanted is not None and version != wanted:
            problems.append(
                (Verdict.FAIL, f"fhirVersion {fhir_version or 'missing'}: a {wanted} client needs {wanted}")
            )
            version = None
        elif isinstance(statement, dict) and not problems and wanted is None and version not in (DSTU2, STU3):
            problems.append(
                (
                    Verdict.FAIL,
                    f"fhirVersion {fhir_version or 'missing'}: the Patients app reads only "
                    "DSTU2 (1.0.x) or STU3 (3.0.x)",
                )
            )
            version = None
        verdict = self._record(subject, response, elapsed, problems, f"fhirVersion {fhir_version} ({version})")
        if verdict is Verdict.FAIL or version is None or not isinstance(statement, dict):
            return False
        self.version, self.statement = version, statement
        self.report.version, self.report.fhir_version = version, fhir_version
        self._check_statement(statement)
        return True

    def _server_rest(self) -> dict[str, Any]:
        rests = [r for r in self.statement.get("rest") or [] if isinstance(r, dict) and r.get("mode") == "server"]
        return rests[0] if rests else {}

    def _check_statement(self, statement: dict[str, Any]) -> None:
        add = self.report.add
        if statement.get("resourceType") != STATEMENT_TYPES[self.version]:
            add(
                Verdict.WARN,
                "metadata",
                f"a {self.version} server answers a {STATEMENT_TYPES[self.version]}, "
                f"not a {statement.get('resourceType')}",
            )
        rest = self._server_rest()
        if not rest:
            add(Verdict.FAIL, "metadata", "no rest entry with mode server")
            return
        listed = {r.get("type") for r in rest.get("resource") or [] if isinstance(r, dict)}
        wanted = [
            "Patient",
            "Observation",
            "Condition",
            "Encounter",
            "AllergyIntolerance",
            MEDICATION_TYPES[self.version],
            "Coverage",
        ]
        if "Patient" not in listed:
            add(Verdict.FAIL, "metadata", "rest.resource does not list Patient; the app does not load without it")
        missing = [t for t in wanted if t not in listed and t != "Patient"]
        if missing:
            add(Verdict.WARN, "metadata", f"rest.resource does not list {', '.join(missing)}")
        elif "Patient" in listed:
            add(Verdict.PASS, "metadata", f"rest.resource lists {', '.join(wanted)}")
        if self._batch_listed():
            add(Verdict.PASS, "metadata", "rest.interaction lists batch")
        else:
            add(
                Verdict.WARN,
                "metadata",
                "rest.interaction does not list batch"
                + (": the gateway runs the app's batches itself" if self.target.mode == "provider" else ""),
            )
        if self.target.mode == "gateway":
            self._check_security(rest.get("security") or {})

    def _batch_listed(self) -> bool:
        codes = {i.get("code") for i in self._server_rest().get("interaction") or [] if isinstance(i, dict)}
        return "batch" in codes or (self.version == DSTU2 and "transaction" in codes)

    def _check_security(self, security: dict[str, Any]) -> None:
        uris = {}
        for extension in security.get("extension") or []:
            if isinstance(extension, dict) and extension.get("url") == OAUTH_URIS:
                uris = {
                    e.get("url"): e.get("valueUri") for e in extension.get("extension") or [] if isinstance(e, dict)
                }
        for name in ("token", "authorize"):
            if uris.get(name):
                self.report.add(Verdict.PASS, "metadata", f"oauth-uris {name} {uris[name]}")
            else:
                self.report.add(Verdict.FAIL, "metadata", f"rest.security has no oauth-uris {name} URL")
        codes = {
            (c.get("system"), c.get("code"))
            for s in security.get("service") or []
            if isinstance(s, dict)
            for c in s.get("coding") or []
            if isinstance(c, dict)
        }
        if (SECURITY_SERVICE_SYSTEM, "OAuth") in codes:
            self.report.add(Verdict.PASS, "metadata", "rest.security.service is OAuth")
        else:
            self.report.add(Verdict.FAIL, "metadata", "rest.security.service is not coded OAuth")
        self.token_url = uris.get("token") or ""

    def get_token(self) -> bool:
        if not self.token_url:
            return False
        subject = f"POST {self.token_url}"
        form = {
            "grant_type": "client_credentials",
            "client_id": self.target.client_id,
            "client_secret": self.target.client_secret,
            "scope": self.target.tenant,
        }
        response, elapsed = self._send("POST", self.token_url, subject, data=form)
        if response is None:
            return False
        problems: list[tuple[Verdict, str]] = []
        answer = self._json(response, problems)
        if response.status_code != 200:
            error = answer.get("error") if isinstance(answer, dict) else None
            problems.append((Verdict.FAIL, f"no token: {error or 'HTTP ' + str(response.status_code)}"))
        elif isinstance(answer, dict):
            for name in ("token_type", "access_token", "expires_in"):
                if name not in answer:
                    problems.append((Verdict.FAIL, f"the token response has no {name}"))
            if str(answer.get("token_type", "")).lower() not in ("bearer", ""):
                problems.append((Verdict.FAIL, f"token_type is {answer['token_type']}, not Bearer"))
            scope = self._token_scope(str(answer.get("access_token", "")))
            if scope is not None and scope != self.target.tenant:
                problems.append((Verdict.WARN, "the access token's scope is not the tenant ID"))
        summary = (
            f"token_type {answer.get('token_type')}, expires_in {answer.get('expires_in')}"
            if isinstance(answer, dict)
            else ""
        )
        if self._record(subject, response, elapsed, problems, summary) is Verdict.FAIL:
            return False
        self.authorization = {"Authorization": f"Bearer {answer['access_token']}"}
        return True

    @staticmethod
    def _token_scope(token: str) -> str | None:
        """The `scope` claim of a JWT access token, read without verifying it; None when not a JWT."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        except ValueError:
            return None
        return str(claims.get("scope")) if isinstance(claims, dict) else None

    def find_patient(self) -> dict[str, Any] | None:
        patient_id = self.target.patient_id
        if not patient_id:
            bundle = self._search("Patient", [("_count", "1")], expect_id=None)
            found = _searchset_entries(bundle, "Patient")
            if not found:
                self.report.add(Verdict.FAIL, "Patient", "no --patient-id given and the server returned no patient")
                return None
            patient_id = str(found[0].get("id"))
            self.report.add(
                Verdict.WARN,
                "Patient",
                f"no --patient-id given: checking Patient/{patient_id}, the first the server returned",
            )
        subject = f"GET Patient/{patient_id}"
        response, elapsed = self._fhir("GET", f"Patient/{patient_id}", subject)
        if response is None:
            return None
        problems: list[tuple[Verdict, str]] = []
        patient = self._json(response, problems)
        self._media_type(response, problems)
        if response.status_code != 200:
            problems.append((Verdict.FAIL, f"the app cannot open the patient: {_diagnostics(patient)}".rstrip(": ")))
        elif (
            not isinstance(patient, dict)
            or patient.get("resourceType") != "Patient"
            or str(patient.get("id")) != patient_id
        ):
            problems.append((Verdict.FAIL, f"the answer is not Patient/{patient_id}"))
        if self._record(subject, response, elapsed, problems, "Patient read") is Verdict.FAIL:
            return None
        self._check_resources("Patient", [patient])
        shape = version_of_patient_shape(patient)
        if shape is not None and shape != (STU3 if self.version == R4 else self.version):  # R4 spells it as STU3
            self.report.add(
                Verdict.FAIL,
                "Patient",
                f"name.family is {'a list' if shape == DSTU2 else 'a string'}, "
                f"the {shape} shape, but the metadata announces {self.version}",
            )
        return patient if isinstance(patient, dict) else None

    def _search(self, resource_type: str, form: list[tuple[str, str]], expect_id: str | None) -> Any:
        """A POST [type]/_search with a form body, as the app sends it; the Bundle, or None on failure."""
        encoded = urlencode(form, safe=":|,")
        subject = f"POST {resource_type}/_search {encoded}"
        response, elapsed = self._fhir(
            "POST",
            f"{resource_type}/_search",
            subject,
            data=encoded,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if response is None:
            return None
        problems: list[tuple[Verdict, str]] = []
        bundle = self._json(response, problems)
        self._media_type(response, problems)
        success = ""
        if response.status_code != 200:
            problems.append((Verdict.FAIL, _diagnostics(bundle) or "the search was refused"))
        elif not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            problems.append((Verdict.FAIL, "the answer is not a Bundle"))
        else:
            ids = [str(r.get("id")) for r in _searchset_entries(bundle, resource_type)]
            if "total" not in bundle:
                problems.append((Verdict.FAIL, "Bundle.total is missing; the app shows the number of matches"))
            if expect_id is not None and expect_id not in ids:
                problems.append((Verdict.FAIL, f"Patient/{expect_id} is not among the {len(ids)} matches"))
            success = f"{len(ids)} matches, total {bundle.get('total')}"
        self._record(subject, response, elapsed, problems, success)
        return bundle if not problems or _worst(problems) is not Verdict.FAIL else None

    def search_patients(self, patient: dict[str, Any]) -> None:
        """The searches the app's UI allows: three of family/given/birthdate/gender (birth date required), MRN, id."""
        patient_id = str(patient["id"])
        name = next((n for n in patient.get("name") or [] if isinstance(n, dict)), {})
        values = {
            "family": _first(name.get("family")),
            "given": _first(name.get("given")),
            "birthdate": patient.get("birthDate"),
            "gender": patient.get("gender"),
        }
        element = {"family": "name.family", "given": "name.given", "birthdate": "birthDate", "gender": "gender"}
        family_param = "family:contains" if self.version == DSTU2 else "family"
        combinations = [("family", "given", "birthdate")]
        if self.version != DSTU2:  # the STU3 app also offers gender; the DSTU2 one does not send it
            combinations += [("family", "birthdate", "gender"), ("given", "birthdate", "gender")]
        for combination in combinations:
            absent = [element[field] for field in combination if not values[field]]
            if absent:
                self.report.add(
                    Verdict.FAIL,
                    f"POST Patient/_search by {', '.join(combination)}",
                    f"not run: Patient/{patient_id} has no {', '.join(absent)}",
                )
                continue
            form = [(family_param if field == "family" else field, str(values[field])) for field in combination]
            self._search("Patient", [*form, ("_count", SEARCH_COUNT)], patient_id)
        mrn = next(
            (
                i.get("value")
                for i in patient.get("identifier") or []
                if isinstance(i, dict)
                and any(c.get("code") == "MR" for c in (i.get("type") or {}).get("coding") or [] if isinstance(c, dict))
            ),
            None,
        )
        if mrn:
            self._search("Patient", [("identifier", str(mrn)), ("_count", SEARCH_COUNT)], patient_id)
        else:
            self.report.add(
                Verdict.FAIL,
                "POST Patient/_search by MRN",
                f"not run: Patient/{patient_id} has no identifier of type MR",
            )
        self._search("Patient", [("_id", patient_id), ("_count", SEARCH_COUNT)], patient_id)

    def _per_patient_urls(self, patient_id: str) -> list[tuple[str, str]]:
        """(resource type, url) of the app's batch; spelled as the app does for a gateway, as a gateway
        forwards them (the version's standard) for a provider."""
        if self.target.mode == "gateway":
            newest, coverage_patient = "_sort:desc=date", "patient"
        else:
            newest = "_sort:desc=date" if self.version == DSTU2 else "_sort=-date"
            coverage_params = {
                p.get("name")
                for r in self._server_rest().get("resource") or []
                if isinstance(r, dict) and r.get("type") == "Coverage"
                for p in r.get("searchParam") or []
                if isinstance(p, dict)
            }
            coverage_patient = "beneficiary" if self.version == STU3 and "patient" not in coverage_params else "patient"
        medication = MEDICATION_TYPES[self.version]
        return [
            ("Observation", f"Observation?patient={patient_id}&category=vital-signs&{newest}"),
            ("Condition", f"Condition?patient={patient_id}&_count=10"),
            ("Encounter", f"Encounter?patient={patient_id}&{newest}&_count=1"),
            ("AllergyIntolerance", f"AllergyIntolerance?patient={patient_id}"),
            (medication, f"{medication}?patient={patient_id}&_count=10"),
            ("Coverage", f"Coverage?{coverage_patient}={patient_id}"),
        ]

    def per_patient_queries(self, patient_id: str) -> None:
        queries = self._per_patient_urls(patient_id)
        if self.target.mode == "gateway" or self._batch_listed():
            answers = self._batch(queries)
        else:
            answers = [self._get_search(url) for _, url in queries]
        for (resource_type, _), bundle in zip(queries, answers, strict=True):
            if bundle is None:
                continue
            resources = _searchset_entries(bundle, resource_type)
            if resources:
                self._check_resources(resource_type, resources)
            else:
                self.report.add(
                    Verdict.WARN, resource_type, f"none for Patient/{patient_id}, so its fields were not checked"
                )

    def _batch(self, queries: list[tuple[str, str]]) -> list[Any]:
        subject = f"POST {self.base} (batch of {len(queries)} per-patient queries)"
        bundle = {
            "resourceType": "Bundle",
            "type": "batch",
            "entry": [{"request": {"method": "GET", "url": url}} for _, url in queries],
        }
        response, elapsed = self._fhir(
            "POST", "", subject, data=json.dumps(bundle), headers={"Content-Type": MEDIA_TYPES[self.version]}
        )
        if response is None:
            return [None] * len(queries)
        problems: list[tuple[Verdict, str]] = []
        answer = self._json(response, problems)
        self._media_type(response, problems)
        entries = answer.get("entry") if isinstance(answer, dict) else None
        if response.status_code != 200:
            problems.append((Verdict.FAIL, _diagnostics(answer) or "the batch was refused"))
        elif not isinstance(answer, dict) or answer.get("type") != "batch-response":
            problems.append((Verdict.FAIL, "the answer is not a batch-response Bundle"))
        elif not isinstance(entries, list) or len(entries) != len(queries):
            problems.append((Verdict.FAIL, f"{len(entries or [])} entries answer {len(queries)} requests"))
        if self._record(subject, response, elapsed, problems, "batch-response in request order") is Verdict.FAIL:
            return [None] * len(queries)
        results: list[Any] = []
        for (_, url), entry in zip(queries, entries or [], strict=True):
            entry = entry if isinstance(entry, dict) else {}
            status = str((entry.get("response") or {}).get("status", ""))
            resource = entry.get("resource")
            if status.startswith("2") and isinstance(resource, dict) and resource.get("resourceType") == "Bundle":
                count = len(resource.get("entry") or [])
                self.report.add(Verdict.PASS, f"batch GET {url}", f"{status}, {count} entries")
                results.append(resource)
                continue
            outcome = (entry.get("response") or {}).get("outcome") or resource
            self.report.add(
                Verdict.FAIL,
                f"batch GET {url}",
                f"{status or 'no status'}: {_diagnostics(outcome) or 'no searchset Bundle'}",
            )
            results.append(None)
        return results

    def _get_search(self, url: str) -> Any:
        subject = f"GET {url}"
        response, elapsed = self._fhir("GET", url, subject)
        if response is None:
            return None
        problems: list[tuple[Verdict, str]] = []
        bundle = self._json(response, problems)
        self._media_type(response, problems)
        if response.status_code != 200:
            problems.append((Verdict.FAIL, _diagnostics(bundle) or "the search was refused"))
        elif not isinstance(bundle, dict) or bundle.get("type") != "searchset":
            problems.append((Verdict.FAIL, "the answer is not a searchset Bundle"))
        count = len(bundle.get("entry") or []) if isinstance(bundle, dict) else 0
        verdict = self._record(subject, response, elapsed, problems, f"{count} entries")
        return bundle if verdict is not Verdict.FAIL else None

    def _check_resources(self, resource_type: str, resources: list[dict[str, Any]]) -> None:
        # What the client receives must be the announced version's shape (the gateway's version bridge
        # translates other versions' providers).
        for message in check_shapes(self.version, resource_type, resources):
            self.report.add(Verdict.FAIL, resource_type, message)
        for finding in check_fields(self.version, resource_type, resources):
            if not finding.missing:
                verdict = Verdict.PASS
            else:
                verdict = Verdict.FAIL if finding.rule.required else Verdict.WARN
            self.report.add(verdict, resource_type, finding.message)


def run_checks(target: Target, session: requests.Session | None = None) -> Report:
    """Every check, in the order the Patients app makes its calls."""
    if session is not None:
        return Run(target, session).run()
    with requests.Session() as own:  # no connection left open once the report is out
        return Run(target, own).run()
