"""``starling-eval batches``: the Batch-API log of a results root, read, resumed and cancelled without a run.

A run collects its own batches when it is re-run; these serve the user who wants to know where a batch stands
(``status``), to collect it now so the next run is all cache hits (``resume``), or to stop paying for it
(``cancel``). Each batch is pursued under claims on its request keys, as a run pursues them, so a run and
``resume`` at once never both collect one; a batch another live process is collecting is reported, not touched.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

from starling_eval.judges.batch_client import BatchAPIError, BatchJudgeClient
from starling_eval.spec import JudgeSpec
from starling_eval.store.batches import BatchLog, BatchRecord
from starling_eval.store.cache import CallCache
from starling_eval.store.claims import SingleFlight


class UnknownBatch(LookupError):
    """An id that names no batch of this results root."""


def select(cache: CallCache, ids: tuple[str, ...], *, open_only: bool) -> list[BatchRecord]:
    """The records ``ids`` name (local or API batch ids), or every (open) record when none are named."""
    log = BatchLog(cache)
    if not ids:
        return log.records(open_only=open_only)
    records = []
    for ident in ids:
        record = log.find(ident)
        if record is None:
            raise UnknownBatch(f"{ident}: no batch of this results root has this id (`starling-eval batches status` "
                               "lists them)")
        records.append(record)
    return records


def rows(records: list[BatchRecord]) -> list[dict[str, Any]]:
    """One row per batch for the status table and --json (no API key: records hold only its variable's name)."""
    return [{"local_id": r.local_id, "batch_id": r.batch_id, "judge": r.judge, "base_url": r.base_url or "api.openai.com",
             "state": r.state, "status": r.status, "requests": r.requests, "counts": r.counts, "note": r.note,
             "created": dt.datetime.fromtimestamp(r.created, dt.UTC).isoformat(timespec="seconds"),
             "file_id": r.file_id} for r in records]


def pursue(cache: CallCache, records: list[BatchRecord], *, cancel: bool = False, poll_s: float = 5.0,
           on_status: Callable[[BatchRecord, Any], None] | None = None) -> list[tuple[BatchRecord, str | None]]:
    """Resume (or cancel, then collect) each open record; (record as it ended, why it could not) per record."""
    return asyncio.run(_pursue(cache, [r for r in records if r.is_open], cancel, poll_s, on_status))


async def _pursue(cache: CallCache, records: list[BatchRecord], cancel: bool, poll_s: float,
                  on_status: Any) -> list[tuple[BatchRecord, str | None]]:
    log = BatchLog(cache)
    clients: dict[tuple[str, str | None, str], BatchJudgeClient] = {}

    async def one(record: BatchRecord, flight: SingleFlight) -> tuple[BatchRecord, str | None]:
        keys = list(log.keys(record.local_id))
        mine, others, _found = flight.claim(keys)
        if others:
            flight.release(mine)
            return record, "another process is collecting it"
        where = (record.judge, record.base_url, record.api_key_env)
        if where not in clients:
            spec = JudgeSpec(model=record.judge, base_url=record.base_url, api_key_env=record.api_key_env, batch=True,
                             batch_poll_s=poll_s)
            clients[where] = BatchJudgeClient(spec, cache, on_status=on_status)
        client = clients[where]
        try:
            ended = await (client.cancel(record.local_id) if cancel else client.resume(record.local_id))
            return ended, None
        except BatchAPIError as exc:
            return log.get(record.local_id) or record, str(exc)

    try:
        with SingleFlight(cache) as flight:
            return list(await asyncio.gather(*(one(r, flight) for r in records)))
    finally:
        for client in clients.values():
            await client.aclose()
