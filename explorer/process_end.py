"""How a command's process ends: every exit step that saves or stops something runs, then the process leaves
without the interpreter destroying what is left in memory.

Destroying a compiled OpenVINO model joins its stream threads, and that join was seen to hang for good. Once, a
``python -m explorer search --json`` that had printed its whole answer (int8 reranker, two test workers busy) never
ended; the interpreter's teardown, which destroys every model left, was the likeliest cause, and this takes it away.
It hung again with this in place (bf16 forced), and gdb showed why: the command's models go when it returns, or,
where they sit in a reference cycle, when the garbage collector next runs (there: inside an exit handler), and the
join waited on a stream thread that was waiting for the GIL inside OpenVINO's Python binding. So ``python -m
explorer`` now keeps every graph it compiles (``openvino_backend.keep_every_graph``), and OpenVINO's threads are
never handed Python code to run (``OpenVinoTransformer.run_many``).
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
