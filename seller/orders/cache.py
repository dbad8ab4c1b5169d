"""The order list's section as last rendered, reused while nothing it shows can have changed.

A section (or the whole page) is kept under the database's data version (`db.data_version`: it moves
with every committed write) and the request that asked for it (user, session, language, URL, htmx or
not). A section also expires when time alone would change it: at the store's next midnight
(the 7-day window moves) and when a shown Unshipped order passes its Ship by (its Late badge).
Set `ORDERS_LIST_CACHE = False` to render every time.
"""
import threading
from collections import OrderedDict
from datetime import datetime


class SectionCache:
    """A few rendered sections per process, the least recently used dropped first."""

    def __init__(self, size: int = 32):
        self.size = size
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, now: datetime) -> str | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if now >= entry[1]:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key, html: str, expires: datetime) -> None:
        with self._lock:
            self._entries[key] = (html, expires)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


sections = SectionCache()
