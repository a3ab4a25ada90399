"""The STAC API's search cache, kept in the ledger's ``meta`` table.

The select stage already stores each point's scenes, so a resumed run only selects the
points it had not reached; this cache also spares those points' regions the searches that
the interrupted run had made (a region's search serves every point in it). Keys start with
``stac-search/<year>/`` and name the API, collection, region, year and thresholds, so a run
with other settings never reads them; ``--force`` searches again and overwrites them.
"""

from __future__ import annotations

from pipeline.ledger import Ledger


class LedgerSearchCache:
    """:class:`exports.stac.api.SearchCache` over the ledger (coordinating process only)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def get(self, key: str) -> str | None:
        return self.ledger.get_meta(key)

    def put(self, key: str, value: str) -> None:
        self.ledger.set_meta(key, value)
