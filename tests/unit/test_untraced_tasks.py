"""A service's log tailers run untraced throughout: `untraced_task` suppresses the drivers'
instrumentations in the task, in the tasks it creates and in the calls it hands to a thread,
and nowhere else."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from opentelemetry import context
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from shared.tracing import in_context, untraced_task


async def test_a_tailer_task_and_what_it_starts_run_untraced_while_the_caller_stays_traced():
    seen: dict[str, bool] = {}

    async def tailer() -> None:
        seen["task"] = is_instrumentation_enabled()

        async def lane() -> None:
            seen["task it created"] = is_instrumentation_enabled()

        await asyncio.create_task(lane())
        # As shared/runtime.py run_sync hands a call to its pool, with the caller's context.
        with ThreadPoolExecutor(1) as pool:
            seen["pool thread"] = await asyncio.get_running_loop().run_in_executor(
                pool, in_context, context.get_current(), is_instrumentation_enabled)

    await untraced_task(tailer(), name="tailer")

    assert seen == {"task": False, "task it created": False, "pool thread": False}
    assert is_instrumentation_enabled()
