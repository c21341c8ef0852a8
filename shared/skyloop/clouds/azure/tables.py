"""Table Storage: the KeyValueStore, compare-and-set on each entity's ETag.

Each key is its own partition (as on DynamoDB): one service's detector state never shares a
partition with another's. A value is split across binary properties of 64,000 bytes (Table
Storage holds 64 KiB a property and 1 MiB an entity), so a value may be 960,000 bytes. Key
characters Table Storage forbids in a key (``/ \\ # ?``, control characters) are percent-encoded
one by one, which keeps a prefix of a key a prefix of its encoding: prefix listings stay range
queries.
"""

from __future__ import annotations

import re
from typing import Any

from ...errors import StaleState
from ...ports.kv import check_size
from .config import AzureSettings
from .storage import table_client

CHUNK = 64_000
CHUNKS = 15
ROW = "kv"
_FORBIDDEN = re.compile(r"[/\\#?%\x00-\x1f\x7f-\x9f]")


def encode_key(key: str) -> str:
    return _FORBIDDEN.sub(lambda m: "%" + "%".join(f"{b:02X}" for b in m.group().encode()), key)


def decode_key(encoded: str) -> str:
    from urllib.parse import unquote

    return unquote(encoded)


class TableKeyValueStore:
    max_value_bytes = CHUNK * CHUNKS

    def __init__(self, azure: AzureSettings, client: Any = None) -> None:
        self.table = client or table_client(azure, azure.state_table)

    @staticmethod
    def _entity(key: str, value: bytes) -> dict[str, Any]:
        parts = [value[i:i + CHUNK] for i in range(0, len(value), CHUNK)] or [b""]
        return {"PartitionKey": encode_key(key), "RowKey": ROW, "n": len(parts),
                **{f"v{i}": p for i, p in enumerate(parts)}}

    @staticmethod
    def _value(entity: Any) -> bytes:
        return b"".join(bytes(entity[f"v{i}"]) for i in range(int(entity["n"])))

    def get(self, key: str) -> bytes | None:
        got = self.get_versioned(key)
        return None if got is None else got[0]

    def get_versioned(self, key: str) -> tuple[bytes, str] | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            e = self.table.get_entity(partition_key=encode_key(key), row_key=ROW)
        except ResourceNotFoundError:
            return None
        return self._value(e), str(e.metadata["etag"])

    def put(self, key: str, value: bytes) -> None:
        from azure.data.tables import UpdateMode

        check_size(self, key, value)
        self.table.upsert_entity(self._entity(key, value), mode=UpdateMode.REPLACE)

    def put_if(self, key: str, value: bytes, expected: str | None) -> str:
        from azure.core import MatchConditions
        from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        check_size(self, key, value)
        entity = self._entity(key, value)
        try:
            if expected is None:
                res = self.table.create_entity(entity)
            else:
                res = self.table.update_entity(entity, mode=UpdateMode.REPLACE, etag=expected,
                                               match_condition=MatchConditions.IfNotModified)
        except (ResourceExistsError, ResourceNotFoundError):
            raise StaleState(f"{key}: changed since it was read") from None
        except HttpResponseError as exc:
            if exc.status_code == 412:
                raise StaleState(f"{key}: changed since it was read") from None
            raise
        return str(res["etag"])

    def items(self, prefix: str) -> list[tuple[str, bytes]]:
        low = encode_key(prefix)
        if low:
            high = low[:-1] + chr(ord(low[-1]) + 1)
            rows = self.table.query_entities("PartitionKey ge @low and PartitionKey lt @high and RowKey eq @row",
                                             parameters={"low": low, "high": high, "row": ROW})
        else:
            rows = self.table.query_entities("RowKey eq @row", parameters={"row": ROW})
        return sorted((decode_key(e["PartitionKey"]), self._value(e)) for e in rows)
