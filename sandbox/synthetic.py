"""Deterministic stand-ins for facts the sample tables lack (MRN, coverage, encounter locations)."""

from __future__ import annotations

from dataclasses import dataclass

MRN_SYSTEM = "http://sandbox.example.org/mrn"
MEMBER_SYSTEM = "http://sandbox.example.org/member-id"
PRACTITIONER_SYSTEM = "http://sandbox.example.org/practitioner-id"
# People born before this date are adults in the data set (its last entries are from 2014).
ADULT_BORN_BEFORE = "1997-01-01"


def mrn_for(pid: str) -> str:
    """An 8-digit MRN, distinct from the PID: (PID x 7919) mod 10^8 is one-to-one for PIDs < 10^8."""
    return f"{int(pid) * 7919 % 10**8:08d}"


@dataclass(frozen=True)
class SiteLocation:
    """A Location encounters happen at."""

    id: str
    name: str
    street: str
    city: str


LOCATIONS = (
    SiteLocation("loc-1", "Sandbox General Hospital, Internal Medicine Clinic", "100 Main St", "Tulsa"),
    SiteLocation("loc-2", "Sandbox Family Practice", "12 Elm St", "Sapulpa"),
    SiteLocation("loc-3", "Sandbox Community Clinic", "7 Lake Rd", "Sand Springs"),
)


def location_for(pid: str, encounter_row_id: str) -> SiteLocation:
    """The location of one encounter: chosen from the PID and the encounter's row number."""
    return LOCATIONS[(int(pid) + int(encounter_row_id)) % len(LOCATIONS)]


@dataclass(frozen=True)
class Plan:
    """An insurance plan a patient is covered by."""

    payor: str
    plan: str
    plan_display: str
    group: str
    group_display: str


PLANS = (
    Plan("Prairie Mutual Health", "PMH-GOLD", "Gold PPO", "G-1001", "Tulsa Public Employees"),
    Plan("Prairie Mutual Health", "PMH-SILVER", "Silver HMO", "G-2002", "Sooner Manufacturing Co."),
    Plan("Red River Insurance", "RRI-BRONZE", "Bronze HDHP", "G-3003", "Individual Market"),
    Plan("Medicare (sandbox)", "MCR-B", "Medicare Part B", "G-MCR", "Medicare Beneficiaries"),
)


def plan_for(pid: str, dob: str) -> Plan:
    """The patient's plan: Medicare for those born before 1950, otherwise chosen from the PID."""
    if dob and dob < "1950-01-01":
        return PLANS[3]
    return PLANS[int(pid) % 3]


def coverage_start_for(pid: str) -> str:
    """Coverage start date: 1 January of 2010..2013, chosen from the PID."""
    return f"{2010 + int(pid) % 4}-01-01"


def subscriber_id_for(pid: str) -> str:
    """The member id on the insurance card."""
    return f"SBX{int(pid) * 31 % 10**9:09d}"
