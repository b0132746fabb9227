"""PostgreSQL plumbing on asyncpg: pool, migrations, outbox and inbox."""

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# What repositories accept: a plain connection or one borrowed from a pool.
Connection = asyncpg.Connection | PoolConnectionProxy
