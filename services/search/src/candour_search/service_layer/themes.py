"""Use cases of the themes: find them again, rename and merge them, report on them."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog

from candour_search.adapters.theme_repository import FoundTheme
from candour_search.insight import InsightQuery
from candour_search.service_layer.unit_of_work import SearchUnitOfWork
from candour_search.theme_report import ThemeReport
from candour_search.themes import ThemeModel, match_previous

log = structlog.get_logger(__name__)

# Finds themes in texts; CPU-bound, so the service runs it in a worker process.
FindThemes = Callable[[Sequence[str]], Awaitable[ThemeModel]]
Progress = Callable[[str], None]


NewUnitOfWork = Callable[[], SearchUnitOfWork]


@dataclass(frozen=True, slots=True)
class Rebuilt:
    programme: str
    entries: int
    themes: int
    carried_on: int
    seconds: float


async def rebuild_themes(
    new_uow: NewUnitOfWork,
    find: FindThemes,
    *,
    programme: str | None = None,
    progress: Progress | None = None,
) -> list[Rebuilt]:
    """Find the themes of one programme (or of each) again from its published entries.

    Themes whose top terms carry on keep their id, so the names people gave them and
    their merges survive; entries are read in one transaction and the result written
    in another, so the index keeps serving while the finder works.
    """
    say = progress or (lambda message: None)
    async with new_uow() as uow:
        programmes = [programme] if programme is not None else await uow.themes.programmes()
    done = []
    for name in programmes:
        started = time.perf_counter()
        started_at = datetime.now(UTC)
        async with new_uow() as uow:
            entries = await uow.themes.entries(name)
            previous = await uow.themes.current(name)
        say(f"{name or '(no programme)'}: {len(entries):,} entries")
        model = await find([text for _, text in entries])
        carried = match_previous(model.themes, [(str(t.theme_id), t.terms) for t in previous])
        found = {
            theme.key: FoundTheme(
                theme_id=uuid.UUID(carried[theme.key]) if theme.key in carried else uuid.uuid4(),
                label=theme.label,
                terms=theme.terms,
                size=theme.size,
            )
            for theme in model.themes
        }
        assignments = [
            (story_id, found[key].theme_id, weight)
            for (story_id, _), assigned in zip(entries, model.assignments, strict=True)
            if assigned is not None
            for key, weight in [assigned]
        ]
        async with new_uow() as uow:
            await uow.themes.replace(
                name,
                list(found.values()),
                assignments,
                started_at=started_at,
                built_at=datetime.now(UTC),
            )
        result = Rebuilt(
            programme=name,
            entries=len(entries),
            themes=len(found),
            carried_on=len(carried),
            seconds=time.perf_counter() - started,
        )
        say(
            f"{name or '(no programme)'}: {result.themes} themes "
            f"({result.carried_on} carried on) in {result.seconds:.1f} s"
        )
        log.info(
            "themes rebuilt",
            programme=name,
            entries=result.entries,
            themes=result.themes,
            carried_on=result.carried_on,
        )
        done.append(result)
    return done


async def keep_themes_fresh(
    new_uow: NewUnitOfWork,
    find: FindThemes,
    *,
    every: timedelta,
    check_every: timedelta = timedelta(minutes=10),
) -> None:
    """Find every programme's themes again whenever the last run is `every` old.

    Several copies of the service may run: each looks at when the themes were last
    found (by any copy, or by the command), so one run per period is the norm. The
    first look is `check_every` after start, so a restart never costs a rebuild.
    """
    while True:
        await asyncio.sleep(min(every, check_every).total_seconds())
        try:
            async with new_uow() as uow:
                last = await uow.themes.last_run()
            if last is None or datetime.now(UTC) - last >= every:
                await rebuild_themes(new_uow, find)
        except Exception as exc:  # the next check tries again; searches are unaffected
            log.error("scheduled theme rebuild failed", error=repr(exc))


async def theme_report(new_uow: NewUnitOfWork, query: InsightQuery) -> ThemeReport:
    async with new_uow() as uow:
        return await uow.themes.report(query)


async def rename_theme(
    new_uow: NewUnitOfWork, theme_id: uuid.UUID, name: str | None, *, by: str
) -> None:
    async with new_uow() as uow:
        await uow.themes.rename(theme_id, name)
    log.info("theme renamed", theme_id=str(theme_id), name=name, by=by)


async def merge_theme(
    new_uow: NewUnitOfWork, theme_id: uuid.UUID, into: uuid.UUID | None, *, by: str
) -> None:
    """Count `theme_id` as part of `into` (None: on its own again)."""
    async with new_uow() as uow:
        if into is None:
            await uow.themes.unmerge(theme_id)
        else:
            await uow.themes.merge(theme_id, into)
    log.info("theme merged", theme_id=str(theme_id), into=str(into) if into else None, by=by)
