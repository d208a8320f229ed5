"""Measuring aids for a service process, for bench/notifications_cpu.py (py-spy is not installed
here). Python imports this module at start when its directory is on PYTHONPATH; it does nothing
unless asked by environment variable:

- CARECOORD_SAMPLE_FILE=path: a stack sampler. Every CARECOORD_SAMPLE_INTERVAL seconds (default
  0.005) each thread's CPU time since the last sample is put on the Python stack it has then; the
  stacks' CPU microseconds are written to `path` (JSON) every second. Biased: frames that release
  the GIL (system calls) are over-weighted, and the event loop's short callbacks land on its idle
  frame (uvloop's C code).
- CARECOORD_COUNT_FILE=path: counts of pool hops and database statements (see below).
"""

import json
import os
import sys
import threading
import time
from collections import Counter

_FILE = os.environ.get("CARECOORD_SAMPLE_FILE")


def _frames(frame):
    names = []
    while frame is not None:
        code = frame.f_code
        names.append(f"{code.co_name} ({os.path.basename(code.co_filename)}:{frame.f_lineno})")
        frame = frame.f_back
    return names[::-1]


def _cpu(ident: int) -> float:
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(ident))
    except (OSError, ValueError):
        return 0.0


def _sample(path: str, interval: float) -> None:
    """Each thread's CPU time since the last sample is put on the stack it has now (CPU-weighted,
    in microseconds), so a thread waiting on a lock or a socket adds nothing."""
    me = threading.get_ident()
    counts: Counter = Counter()
    last_cpu: dict[int, float] = {}
    last_write = time.monotonic()
    while True:
        time.sleep(interval)
        names = {t.ident: t.name for t in threading.enumerate()}
        for ident, frame in sys._current_frames().items():
            if ident == me:
                continue
            now = _cpu(ident)
            spent = now - last_cpu.get(ident, now)
            last_cpu[ident] = now
            if spent <= 0:
                continue
            stack = _frames(frame)
            thread = names.get(ident, "?").split("_")[0]
            counts[thread + ";" + ";".join(stack)] += int(spent * 1e6)
        if time.monotonic() - last_write > 1.0:
            last_write = time.monotonic()
            with open(path + ".tmp", "w") as out:
                json.dump(counts, out)
            os.replace(path + ".tmp", path)


if _FILE:
    threading.Thread(target=_sample, args=(_FILE, float(os.environ.get("CARECOORD_SAMPLE_INTERVAL", "0.005"))),
                     daemon=True, name="sampler").start()


# CARECOORD_COUNT_FILE=path: count hops to thread pools and statements sent by psycopg (the
# eventsourcing side) and asyncpg (the log readers), written to `path` (JSON) every second.
# Counts do not depend on how busy the machine is, unlike CPU seconds.
_COUNT = os.environ.get("CARECOORD_COUNT_FILE")
if _COUNT:
    import concurrent.futures

    _counts: Counter = Counter()
    _submit = concurrent.futures.ThreadPoolExecutor.submit

    def _counted_submit(self, fn, /, *args, **kwargs):
        _counts["pool hops"] += 1
        return _submit(self, fn, *args, **kwargs)

    concurrent.futures.ThreadPoolExecutor.submit = _counted_submit  # type: ignore[method-assign]

    def _patch_later() -> None:
        """psycopg and asyncpg are imported by the service after this module: patch them then."""
        import importlib
        psycopg = importlib.import_module("psycopg")
        execute = psycopg.Cursor.execute

        def counted_execute(self, *args, **kwargs):
            _counts["psycopg statements"] += 1
            return execute(self, *args, **kwargs)

        psycopg.Cursor.execute = counted_execute  # type: ignore[method-assign]
        asyncpg_pool = importlib.import_module("asyncpg.pool")
        fetch = asyncpg_pool.Pool.fetch

        async def counted_fetch(self, *args, **kwargs):
            _counts["asyncpg fetches"] += 1
            return await fetch(self, *args, **kwargs)

        asyncpg_pool.Pool.fetch = counted_fetch  # type: ignore[method-assign]

    def _write_counts() -> None:
        while True:
            time.sleep(1.0)
            with open(_COUNT + ".tmp", "w") as out:
                json.dump(_counts, out)
            os.replace(_COUNT + ".tmp", _COUNT)

    _patch_later()
    threading.Thread(target=_write_counts, daemon=True, name="counter").start()


# CARECOORD_PROFILE_FILE=path: cProfile, in CPU time, of the main thread (the event loop) and of
# the work items run by thread pools (eventsourcing's saves, the group commits) between SIGUSR1
# (start) and SIGUSR2 (stop): written to `path` (the loop) and `path`.threads (the pools), pstats
# format. Deterministic, unlike the sampler above, so the loop's short callbacks are seen; it
# slows the profiled code down about twofold.
_PROFILE = os.environ.get("CARECOORD_PROFILE_FILE")
if _PROFILE:
    import cProfile
    import signal
    from concurrent.futures import thread as _pool_thread

    # The thread's CPU clock, not the wall: time waiting for the GIL (after a call that let go of
    # it) or for a core is not the function's.
    _profiler = cProfile.Profile(time.thread_time)
    _pool_profilers: dict[int, cProfile.Profile] = {}
    _profiling = False
    _run_work_item = _pool_thread._WorkItem.run

    def _profiled_run(self):
        if not _profiling:
            return _run_work_item(self)
        profiler = _pool_profilers.setdefault(threading.get_ident(), cProfile.Profile(time.thread_time))
        profiler.enable()
        try:
            return _run_work_item(self)
        finally:
            profiler.disable()

    _pool_thread._WorkItem.run = _profiled_run  # type: ignore[method-assign]

    def _start_profile(_signum, _frame) -> None:
        global _profiling
        _profiling = True
        _profiler.enable()

    def _stop_profile(_signum, _frame) -> None:
        global _profiling
        _profiler.disable()
        _profiling = False
        _profiler.dump_stats(_PROFILE)
        if _pool_profilers:
            import pstats
            merged = pstats.Stats(*_pool_profilers.values())
            merged.dump_stats(_PROFILE + ".threads")

    signal.signal(signal.SIGUSR1, _start_profile)
    signal.signal(signal.SIGUSR2, _stop_profile)
