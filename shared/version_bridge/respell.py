"""What changes spelling, not shape, between R4 and the versions before it: code-system URLs that moved to
terminology.hl7.org (any `system` naming one), and R4's `Reference.type`, which earlier versions lack, kept as an
extension on the reference. The safety net applies this to the nodes it visits (`node`) and hands every other
structure to `tree`, so a conversion walks each node once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.version_bridge import code_systems
from shared.version_bridge import extensions as ext

TYPE_URL = ext.url_for("R4", "Reference.type")


class Respeller:
    """The respelling of one direction: to R4 (`to_r4`) or from R4 to an earlier version."""

    __slots__ = ("moved", "rewrite", "to_r4")

    def __init__(self, to_r4: bool) -> None:
        self.to_r4 = to_r4
        self.moved = code_systems.PRE_R4 if to_r4 else code_systems.R4_TERMINOLOGY
        self.rewrite: Callable[[str], str] = code_systems.to_r4 if to_r4 else code_systems.to_pre_r4

    def node(self, item: dict[str, Any]) -> None:
        """This object's own `system` and `type` (not what it contains); a structure it gains is respelled too."""
        system = item.get("system")
        if type(system) is str and system.startswith(self.moved):
            item["system"] = self.rewrite(system)
        if "reference" in item or "display" in item:
            if not self.to_r4 and type(item.get("type")) is str and ("reference" in item or "identifier" in item):
                ext.add(item, ext.encode(TYPE_URL, item.pop("type"), "uri"))
            elif self.to_r4 and "extension" in item:
                saved = ext.take(item, TYPE_URL)
                if saved:
                    kept = item["type"] = ext.decode(saved[0])
                    if type(kept) is dict or type(kept) is list:
                        self.tree(kept)

    def tree(self, root: Any) -> None:
        """Every object inside `root` (a dict or a list), at any depth. On the hot path: one walk, plain type
        checks."""
        moved, rewrite, to_r4 = self.moved, self.rewrite, self.to_r4
        stack = [root]
        push, pop = stack.append, stack.pop
        while stack:
            item = pop()
            if type(item) is list:
                for value in item:
                    if type(value) is dict or type(value) is list:
                        push(value)
                continue
            system = item.get("system")
            if type(system) is str and system.startswith(moved):
                item["system"] = rewrite(system)
            if "reference" in item or "display" in item:
                if not to_r4 and type(item.get("type")) is str and ("reference" in item or "identifier" in item):
                    ext.add(item, ext.encode(TYPE_URL, item.pop("type"), "uri"))
                elif to_r4 and "extension" in item:
                    saved = ext.take(item, TYPE_URL)
                    if saved:
                        item["type"] = ext.decode(saved[0])
            for value in item.values():
                if type(value) is dict or type(value) is list:
                    push(value)


TO_R4 = Respeller(to_r4=True)
FROM_R4 = Respeller(to_r4=False)


def respeller(source: str, target: str) -> Respeller | None:
    """The respelling a step between adjacent versions needs (None between DSTU2 and STU3)."""
    if target == "R4":
        return TO_R4
    return FROM_R4 if source == "R4" else None
