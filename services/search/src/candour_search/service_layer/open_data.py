"""Use cases of the open data views: who listens (the response-rate table)."""

from __future__ import annotations

import asyncpg

from candour_search.adapters.rates_repository import organisation_rates as read_rates
from candour_search.response_rates import OrganisationRate, RateSort, sort_rates


async def organisation_rates(
    pool: asyncpg.Pool, days: int, *, sort: RateSort, descending: bool
) -> list[OrganisationRate]:
    async with pool.acquire() as conn:
        rates = await read_rates(conn, days)
    return sort_rates(rates, sort, descending=descending)
