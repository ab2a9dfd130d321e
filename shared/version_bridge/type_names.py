"""A resource type's name in every version: MedicationOrder in DSTU2 is MedicationRequest in STU3 and R4."""

from __future__ import annotations

import functools

from shared.version_bridge.engine import ORDER, type_name


@functools.lru_cache(maxsize=1024)
def equivalent_types(names: tuple[str, ...]) -> tuple[str, ...]:
    """`names` with each type's name in every other version beside it, so a tenant's allow-list and a
    token's scopes hold in every version. A pure function of the rule tables, so cached for the process."""
    out: list[str] = []
    for name in names:
        for source in ORDER:
            for target in ORDER:
                renamed = type_name(name, source, target)
                if renamed not in out:
                    out.append(renamed)
    return tuple(out)
