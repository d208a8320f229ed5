"""The raw baseline of a notification: the same hops a crisis takes after intake accepted it, with
no application in between, measured in the same run.

After intake's commit, a crisis notice needs at least: one RabbitMQ hop (the relay publishes with a
confirm to a quorum queue, notifications consumes), one PostgreSQL commit (notifications records
the notice) and one signed HTTP POST to the receiver. One sample here does exactly that, in
sequence, from this process: publish a persistent message with a publisher confirm to a quorum
queue in the run's vhost -> consume and ack it -> insert an event-sized row in autocommit ->
POST a Standard-Webhooks-signed body to the fast receiver, timed where the receiver times its
deliveries. The system's crisis -> webhook latency divided by this says what its own machinery
(relay, inbox, matching, lanes, access checks, the extra commits) costs over the bare hops.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aio_pika
import asyncpg
from standardwebhooks import Webhook

from bench.arrivals import WebhookChannel
from bench.load import KeepAliveConnection
from bench.stack import BenchError

BASELINE_QUEUE = "bench.baseline"
SAMPLES = 200


@dataclass(frozen=True)
class BaselineResult:
    total_ms: list[float]     # publish -> received by the receiver
    broker_ms: list[float]    # publish (confirmed) -> consumed
    commit_ms: list[float]
    post_ms: list[float]      # POST sent -> received by the receiver


async def measure_baseline(amqp_url: str, database_url: str, receiver: WebhookChannel, secret: str,
                           samples: int = SAMPLES) -> BaselineResult:
    address = urlsplit(receiver.url)
    post = KeepAliveConnection(address.hostname or "127.0.0.1", address.port or 80, "Bearer baseline")
    signer = Webhook(secret)
    broker = await aio_pika.connect(amqp_url, timeout=10)
    database = await asyncpg.connect(database_url, timeout=10)
    total, on_broker, commits, posts = [], [], [], []
    try:
        channel = await broker.channel(publisher_confirms=True)
        queue = await channel.declare_queue(BASELINE_QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
        await database.execute("CREATE TABLE IF NOT EXISTS bench_baseline_events (id bigserial PRIMARY KEY,"
                               " originator_id uuid NOT NULL, state bytea NOT NULL)")
        insert = await database.prepare("INSERT INTO bench_baseline_events (originator_id, state) VALUES ($1, $2)")
        state = os.urandom(300)
        async with queue.iterator() as messages:
            for n in range(samples):
                started = time.perf_counter()
                await channel.default_exchange.publish(
                    aio_pika.Message(state, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key=BASELINE_QUEUE)
                message = await asyncio.wait_for(anext(messages), timeout=10)
                await message.ack()
                consumed = time.perf_counter()
                await insert.fetch(uuid.uuid4(), message.body)
                committed = time.perf_counter()
                message_id = f"msg_baseline_{n}_{uuid.uuid4().hex[:8]}"
                body = json.dumps({"type": "bench.baseline", "sequence": n}, separators=(",", ":"))
                now = datetime.now(UTC)
                answer = await post.post(address.path, body.encode(), {
                    "webhook-id": message_id, "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": signer.sign(message_id, now, body)})
                arrived = receiver.baseline.get(message_id)
                if answer.status_code != 204 or arrived is None:
                    raise BenchError(f"the baseline's POST to the receiver answered {answer.status_code}")
                total.append((arrived - started) * 1000)
                on_broker.append((consumed - started) * 1000)
                commits.append((committed - consumed) * 1000)
                posts.append((arrived - committed) * 1000)
        await queue.delete(if_unused=False, if_empty=False)
    finally:
        post.close()
        await database.close()
        await broker.close()
    return BaselineResult(total, on_broker, commits, posts)
