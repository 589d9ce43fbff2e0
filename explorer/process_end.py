"""How a command's process ends: every exit step that saves or stops something runs, then the process leaves
without the interpreter destroying what is left in memory.

Destroying a compiled OpenVINO model joins its stream threads, and that join was seen to hang for good (every
thread waiting on a futex; see ``explorer.inference.openvino_backend._KEPT_ALIVE``). While a process runs, no
compiled model is destroyed; but at the end of a normal exit the interpreter destroys them all. Once, a
``python -m explorer search --json`` that had printed its whole answer (int8 reranker, two test workers busy) never
ended; that teardown is the likeliest cause (not reproduced in 64 runs after, so not proven), and this takes it
away. It happened again after this was in place (bf16 forced): the command's own models, and their compiled graphs,
were destroyed when the command returned, before this ran. So ``python -m explorer`` now keeps every graph it
compiles (``openvino_backend.keep_every_graph``), and OpenVINO's threads are never handed Python code to run (the
likely deadlock: one of them waiting for the GIL held by a thread joining them; ``OpenVinoTransformer.run_many``).
Nothing is lost by skipping the teardown: other threads are joined and the exit handlers run first (a background model
preparation is waited for, milvus-lite's server manager stops its servers, temporary folders are removed, logs
flushed), then stdout and stderr are flushed.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn


def end_process(status: int) -> NoReturn:
    """Ends the process with exit ``status`` once its threads and exit handlers have finished (as a normal exit
    does), without destroying the objects left in memory."""
    # the interpreter's own first steps of an exit, in its order: wait for non-daemon threads (and let thread pools
    # wind down), then the exit handlers
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can reach it
            pass
    os._exit(status)
