"""A stack sampler for a service process, for bench/notifications_cpu.py (py-spy is not installed
here). On PYTHONPATH, with CARECOORD_SAMPLE_FILE set, it samples every thread's Python stack every
CARECOORD_SAMPLE_INTERVAL seconds (default 0.005) and writes the folded stacks' counts to that file
(JSON) every second. Stacks whose innermost frame is a wait (an idle pool thread, the event loop
in its selector) are counted as idle. Wall-clock samples taken when the sampler gets the GIL: a
rough split of where the process works, not exact CPU."""

import json
import os
import sys
import threading
import time
from collections import Counter

_FILE = os.environ.get("CARECOORD_SAMPLE_FILE")
IDLE_FUNCTIONS = {"wait", "_worker", "select", "poll", "run_forever", "run_until_complete", "_run_once",
                  "get", "sleep", "epoll", "acquire"}


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
