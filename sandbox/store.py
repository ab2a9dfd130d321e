"""An index of every servable resource by type, id and patient; resources are built on read."""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from pathlib import Path

from .mapping import Item, Mapper, Resource
from .sample_data import SampleData, load_sample_data
from .versions import Flavour, get_flavour


class Store:
    """Read-only resources of one flavour; shared by every app of that flavour and data directory."""

    def __init__(self, data: SampleData, flavour: Flavour) -> None:
        self.data = data
        self.flavour = flavour
        self.by_type: dict[str, dict[str, Item]] = {t: {} for t in flavour.resource_types}
        self.by_patient: dict[tuple[str, str], list[Item]] = defaultdict(list)
        for item in Mapper(data, flavour).items():
            self.by_type[item.type][item.id] = item
            if item.patient:
                self.by_patient[(item.type, item.patient)].append(item)

    def read(self, rtype: str, rid: str) -> Resource | None:
        item = self.by_type.get(rtype, {}).get(rid)
        return item.build() if item else None

    def items(self, rtype: str, patient: str | None = None) -> list[Item]:
        """Items of a type in catalogue order, optionally only those of one patient."""
        if patient is not None:
            return self.by_patient.get((rtype, patient), [])
        return list(self.by_type.get(rtype, {}).values())

    def counts(self) -> dict[str, int]:
        return {t: len(items) for t, items in self.by_type.items()}


@lru_cache(maxsize=8)
def _store(directory: Path, flavour_name: str) -> Store:
    return Store(load_sample_data(directory), get_flavour(flavour_name))


def get_store(data_dir: str | Path | None, flavour: Flavour) -> Store:
    """The (cached) store for a data directory and flavour."""
    return _store(load_sample_data(data_dir).directory, flavour.name)
