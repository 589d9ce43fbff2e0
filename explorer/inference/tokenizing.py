"""One tokenisation at a time per tokenizer: a Hugging Face fast tokenizer is not safe to share between threads.

Its padding and truncation settings live in the shared Rust tokenizer and each call sets them, so one session
counting lengths (no padding) while another prepares a batch (padding) hands the second unpadded rows ("Unable to
create tensor ... expected sequence of length 20 at dim 1 (got 4)"), seen with two browser sessions at once.
Every tokenisation of a shared model goes through ``tokenizing(model)``; the model calls themselves still
overlap.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

_GUARD = threading.Lock()
_LOCKS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_UNKEYED = threading.Lock()  # for a tokenizer that cannot be a weak dictionary key


def tokenizing(owner: Any) -> threading.Lock:
    """The lock to hold while tokenising with ``owner`` (a model with a ``tokenizer``, or a tokenizer itself)."""
    tokenizer = getattr(owner, "tokenizer", None) or owner
    with _GUARD:
        try:
            lock = _LOCKS.get(tokenizer)
            if lock is None:
                lock = _LOCKS[tokenizer] = threading.Lock()
        except TypeError:
            return _UNKEYED
    return lock
