"""What story-intake knows: the directory, and stories as people submit them."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from candour_common.events import AuthorContact, OrganisationRef, ServiceRef, Tags


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Organisation:
    id: str
    name: str
    type: str
    services: tuple[Service, ...] = ()

    def service(self, service_id: str) -> Service | None:
        return next((s for s in self.services if s.id == service_id), None)


@dataclass(frozen=True, slots=True)
class SubmitStory:
    """Command: a person shares their story."""

    title: str
    body: str
    organisation_id: str
    service_id: str | None
    author: AuthorContact
    tags: Tags
    experienced_at: str | None


@dataclass(frozen=True, slots=True)
class Story:
    id: UUID
    title: str
    body: str
    organisation: OrganisationRef
    service: ServiceRef | None
    author: AuthorContact
    tags: Tags
    experienced_at: str | None
    submitted_at: datetime
    author_token_hash: bytes


class UnknownOrganisation(Exception):
    def __init__(self, organisation_id: str) -> None:
        super().__init__(f"no organisation {organisation_id!r} in the directory")
        self.organisation_id = organisation_id


class UnknownService(Exception):
    def __init__(self, organisation_id: str, service_id: str) -> None:
        super().__init__(f"organisation {organisation_id!r} has no service {service_id!r}")
        self.service_id = service_id


def new_author_token() -> tuple[str, bytes]:
    """A random private token for the author, and the hash we keep instead of it."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
