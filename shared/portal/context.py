"""What every portal handler gets (request, configuration, session, time) and the errors it raises as pages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.audit import audit
from shared.http_messages import Request
from shared.portal import pages, web
from shared.portal.config import PortalConfig
from shared.portal.session import Session
from shared.portal.web import PortalResponse, page_response
from shared.registry.service import registry


class PageError(Exception):
    """A refusal shown as a readable page with its status; `reason` goes into the audit record."""

    def __init__(
        self, status: int, title: str, *paragraphs: str, reason: str = "refused", link: tuple[str, str] | None = None
    ) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.paragraphs = paragraphs
        self.reason = reason
        self.link = link


@dataclass(frozen=True)
class Context:
    """One request as the handlers see it: `path` is what follows `/portal/`, without slashes at the ends."""

    request: Request
    path: str
    config: PortalConfig
    session: Session | None
    now: datetime

    def cookie(self, name: str) -> str | None:
        return web.cookie(self.request, name)

    def page(self, template: str, status: int = 200, cookies: tuple[str, ...] = (), **values: Any) -> PortalResponse:
        html = pages.render(
            template, session=self.session, support_contact=self.config.support_contact, portal=self.config, **values
        )
        return page_response(html, status, cookies)

    @property
    def actor(self) -> str:
        """Who acts, as the tenant's history shows it: name and user name, and whether an operator."""
        if self.session is None:
            return "someone signed out"
        who = f"{self.session.name} ({self.session.username})" if self.session.username else self.session.name
        return ("operator " if self.session.operator and not self.session.customer_admin else "") + who

    def remember(
        self, tenant_ids: Iterable[str], action: str, client_id: str = "", secret_id: str = "", detail: str = ""
    ) -> None:
        """Adds a succeeded change to the history of each tenant it concerns (never `*`)."""
        registry().record_history(
            (t for t in tenant_ids if t != "*"),
            action,
            self.actor,
            client_id=client_id,
            secret_id=secret_id,
            detail=detail,
        )

    def audit(self, action: str, outcome: str, **fields: Any) -> None:
        """One record per portal action: who (oid and tenant), what, the outcome; never a secret."""
        who = {"oid": self.session.oid, "tid": self.session.tid} if self.session else {}
        audit("portal." + action, outcome=outcome, **{**who, **fields})
