"""Use cases of the open data views: who listens (the response-rate table), the feeds
and the insight figures."""

from __future__ import annotations

from candour_search.domain import SearchStories
from candour_search.feeds import FeedResponse, FeedStory
from candour_search.insight import InsightQuery, InsightReport
from candour_search.response_rates import OrganisationRate, RateSort, sort_rates
from candour_search.service_layer.unit_of_work import SearchUnitOfWork


async def organisation_rates(
    uow: SearchUnitOfWork, days: int, *, sort: RateSort, descending: bool
) -> list[OrganisationRate]:
    async with uow:
        rates = await uow.reads.organisation_rates(days)
    return sort_rates(rates, sort, descending=descending)


async def newest_stories(
    uow: SearchUnitOfWork, query: SearchStories, limit: int
) -> list[FeedStory]:
    async with uow:
        return await uow.reads.newest_stories(query, limit)


async def newest_responses(
    uow: SearchUnitOfWork, query: SearchStories, limit: int
) -> list[FeedResponse]:
    async with uow:
        return await uow.reads.newest_responses(query, limit)


async def insight(uow: SearchUnitOfWork, query: InsightQuery) -> InsightReport:
    # One snapshot, so the breakdowns add up to the totals.
    async with uow:
        await uow.reads.snapshot()
        return await uow.reads.insight(query)
