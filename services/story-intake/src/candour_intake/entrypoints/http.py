"""HTTP routes of story-intake (thin: validate, call a handler, shape the answer)."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Request, status

from candour_common.events import AuthorContact, Tags
from candour_common.http.problems import FieldError, Problem, ProblemError
from candour_intake.adapters import repository
from candour_intake.domain import Organisation, SubmitStory, UnknownOrganisation, UnknownService
from candour_intake.entrypoints.schemas import (
    OrganisationOut,
    ServiceOut,
    StoryCreated,
    StoryIn,
)
from candour_intake.service_layer import handlers

router = APIRouter(prefix="/v1")
PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}


def get_pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.platform.pool
    return pool


Pool = Annotated[asyncpg.Pool, Depends(get_pool)]


def _organisation_out(org: Organisation) -> OrganisationOut:
    return OrganisationOut(
        id=org.id,
        name=org.name,
        type=org.type,
        services=[ServiceOut(id=s.id, name=s.name) for s in org.services],
    )


@router.get("/organisations", response_model=list[OrganisationOut], tags=["directory"])
async def list_organisations(pool: Pool) -> list[OrganisationOut]:
    async with pool.acquire() as conn:
        return [_organisation_out(o) for o in await repository.list_organisations(conn)]


@router.get(
    "/organisations/{ods_code}",
    response_model=OrganisationOut,
    tags=["directory"],
    responses={404: PROBLEM},
)
async def get_organisation(ods_code: str, pool: Pool) -> OrganisationOut:
    async with pool.acquire() as conn:
        org = await repository.get_organisation(conn, ods_code)
    if org is None:
        raise ProblemError(404, f"No organisation with ODS code {ods_code!r}.")
    return _organisation_out(org)


@router.post(
    "/stories",
    status_code=status.HTTP_201_CREATED,
    response_model=StoryCreated,
    tags=["stories"],
    responses={400: PROBLEM, 422: PROBLEM, 503: PROBLEM},
)
async def submit_story(body: StoryIn, pool: Pool) -> StoryCreated:
    command = SubmitStory(
        title=body.title,
        body=body.body,
        organisation_id=body.organisation_id,
        service_id=body.service_id,
        author=AuthorContact(**body.author.model_dump()),
        tags=Tags(**body.tags.model_dump()),
        experienced_at=body.experienced_at,
    )
    try:
        story, token = await handlers.submit_story(pool, command)
    except UnknownOrganisation as exc:
        raise ProblemError(
            422, str(exc), errors=[FieldError(field="body.organisation_id", message=str(exc))]
        ) from exc
    except UnknownService as exc:
        raise ProblemError(
            422, str(exc), errors=[FieldError(field="body.service_id", message=str(exc))]
        ) from exc
    return StoryCreated(story_id=story.id, author_token=token)
