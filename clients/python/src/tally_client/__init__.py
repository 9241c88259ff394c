"""Tally's producer client: record executions, API requests and pool events.

``Tally`` (threads) and ``AsyncTally`` (asyncio) queue events in memory and
send them in batches from the background, retrying with backoff until Tally
has them. Every event carries its id and timestamp from the moment it is
recorded, so a retry is recognised and counted once. ``tally_client.asgi``
has a middleware that records every request of a Starlette/FastAPI app.
"""

from ._async import AsyncTally
from ._recorder import ContainerSource, ExecutionStatus, PoolKind, hash_api_key
from ._sync import Tally
from ._types import Stats
from ._validate import InvalidEventError, Timestamp

__all__ = [
    "AsyncTally",
    "ContainerSource",
    "ExecutionStatus",
    "InvalidEventError",
    "PoolKind",
    "Stats",
    "Tally",
    "Timestamp",
    "hash_api_key",
]
__version__ = "0.1.0"
