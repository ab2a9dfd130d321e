"""Rendering the portal's Jinja2 templates, always with autoescaping; the static files beside them."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

HERE = Path(__file__).resolve().parent
STATIC_FILES = {"portal.css": "text/css; charset=utf-8", "portal.js": "text/javascript; charset=utf-8"}


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


@cache
def environment() -> Environment:
    # autoescape=True for every template: names and URLs typed by users end up in these pages.
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    return env


def render(template: str, **context: Any) -> str:
    context.setdefault("notice", None)
    context.setdefault("session", None)
    context.setdefault("support_contact", "the gateway's operators")
    context.setdefault("portal", None)
    context.setdefault("refusal", False)
    return environment().get_template(template).render(**context)


@cache
def static_file(name: str) -> bytes | None:
    if name not in STATIC_FILES:
        return None
    return (HERE / "static" / name).read_bytes()
