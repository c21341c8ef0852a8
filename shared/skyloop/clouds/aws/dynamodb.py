"""DynamoDB adapters: idempotency records, small state, audit chain, guardrail memory.

Two tables (SAM template):
- the idempotency table is Powertools' (``id``, ``status``, ``expiration`` as the TTL
  attribute, ``in_progress_expiration``, ``data``), written through Powertools'
  ``DynamoDBPersistenceLayer``.
- the state table (``pk``, ``sk``) holds the key-value state, the audit chain,
  cooldowns, the action log and held requests, each under its own partition.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any, Mapping

from ...ports.audit import GENESIS, canonical, digest, entries_of, verify_chain
from ...errors import InProgress, StaleState
from ...ports.kv import check_size
from .config import AwsSettings
from .session import client, error_code

COMPLETED_TTL = 7 * 24 * 3600  # longer than SQS's 4-day default retention: a late redelivery still dedupes


class DynamoIdempotencyStore:
    """The IdempotencyStore port on Powertools' own ``DynamoDBPersistenceLayer``: its item
    layout, its conditional writes (a claim succeeds when the key is free, expired, or an
    in-progress claim whose worker ran out of time), its record format. Skyloop supplies the
    key (a domain key such as the dataset hash or request id, the same on every cloud), which
    is why the port, not the ``@idempotent`` decorator, makes the claims."""

    def __init__(self, aws: AwsSettings, table: str | None = None) -> None:
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

        self.layer = DynamoDBPersistenceLayer(table_name=table or aws.idempotency_table,
                                              boto3_client=client("dynamodb", aws))
        self.layer.configure(IdempotencyConfig(event_key_jmespath="key", expires_after_seconds=COMPLETED_TTL,
                                               use_local_cache=False), key_prefix="skyloop")

    def begin(self, key: str, *, expires_after: float = 300.0) -> dict[str, Any] | None:
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyItemAlreadyExistsError,
            IdempotencyItemNotFoundError,
        )

        data = {"key": key}
        try:
            self.layer.save_inprogress(data, remaining_time_in_millis=int(expires_after * 1000))
            return None
        except IdempotencyItemAlreadyExistsError as exc:
            try:
                record = exc.old_data_record or self.layer.get_record(data)
            except IdempotencyItemNotFoundError:  # released between the two calls: try again later
                record = None
        if record is not None and record.status == "COMPLETED":
            return record.response_json_as_dict() or {}
        raise InProgress(f"event {key} is being processed by another worker")

    def complete(self, key: str, result: Mapping[str, Any]) -> None:
        self.layer.save_success({"key": key}, json.loads(json.dumps(dict(result), default=str)))

    def release(self, key: str) -> None:
        self.layer.delete_record({"key": key}, RuntimeError("released for redelivery"))


class _StateTable:
    def __init__(self, aws: AwsSettings, table: str | None = None) -> None:
        self.table = table or aws.state_table
        self.ddb = client("dynamodb", aws)

    def _query(self, pk: str, **kw: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        args: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True, **kw}
        args.setdefault("KeyConditionExpression", "pk = :pk")
        args.setdefault("ExpressionAttributeValues", {})[":pk"] = {"S": pk}
        while True:
            res = self.ddb.query(**args)
            items.extend(res.get("Items", []))
            if "LastEvaluatedKey" not in res:
                return items
            args["ExclusiveStartKey"] = res["LastEvaluatedKey"]


class DynamoKeyValueStore(_StateTable):
    """Detector state, open incidents, deployment history. Each item carries a version token
    (``ver``, a fresh uuid per write) and compare-and-set is a conditional put on it. Values
    are limited below DynamoDB's 400 KB item size, leaving room for the key and attributes.

    Each key is its own partition (``pk = kv#<key>``): one service's detector state or one
    group's history never shares a partition's throughput with another's. A prefix listing is
    therefore a scan, which only the report uses; handlers read and write by key."""

    max_value_bytes = 380_000
    SK = "kv"

    @staticmethod
    def _pk(key: str) -> dict[str, str]:
        return {"S": f"kv#{key}"}

    def _item(self, key: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.ddb.get_item(
            TableName=self.table, Key={"pk": self._pk(key), "sk": {"S": self.SK}}, ConsistentRead=True).get("Item")
        return item

    def get(self, key: str) -> bytes | None:
        item = self._item(key)
        return None if item is None else bytes(item["v"]["B"])

    def get_versioned(self, key: str) -> tuple[bytes, str] | None:
        item = self._item(key)
        return None if item is None else (bytes(item["v"]["B"]), item.get("ver", {}).get("S", ""))

    def _write(self, key: str, value: bytes, **condition: Any) -> str:
        """One item write with a fresh version token, under ``condition`` if any."""
        check_size(self, key, value)
        version = uuid.uuid4().hex
        self.ddb.put_item(TableName=self.table, Item={"pk": self._pk(key), "sk": {"S": self.SK}, "v": {"B": value},
                                                      "ver": {"S": version}}, **condition)
        return version

    def put(self, key: str, value: bytes) -> None:
        self._write(key, value)

    def put_if(self, key: str, value: bytes, expected: str | None) -> str:
        if expected is None:
            cond: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(sk)"}
        elif expected == "":  # an item written before versions existed
            cond = {"ConditionExpression": "attribute_exists(sk) AND attribute_not_exists(ver)"}
        else:
            cond = {"ConditionExpression": "ver = :ver", "ExpressionAttributeValues": {":ver": {"S": expected}}}
        try:
            return self._write(key, value, **cond)
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise StaleState(f"{key}: changed since it was read") from None
            raise

    def items(self, prefix: str) -> list[tuple[str, bytes]]:
        args: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True,
                                "FilterExpression": "begins_with(pk, :p) AND sk = :sk",
                                "ExpressionAttributeValues": {":p": self._pk(prefix), ":sk": {"S": self.SK}}}
        rows: list[dict[str, Any]] = []
        while True:
            res = self.ddb.scan(**args)
            rows.extend(res.get("Items", []))
            if "LastEvaluatedKey" not in res:
                break
            args["ExclusiveStartKey"] = res["LastEvaluatedKey"]
        return sorted((r["pk"]["S"][3:], bytes(r["v"]["B"])) for r in rows)


class DynamoAuditLog(_StateTable):
    """The hash chain on DynamoDB: a conditional put on the next sequence number
    makes two concurrent writers serialise instead of forking the chain."""

    def append(self, kind: str, payload: Mapping[str, Any]) -> int:
        body = canonical(payload)
        for _ in range(20):
            last = self._query("audit", ScanIndexForward=False, Limit=1)[:1]
            seq = int(last[0]["sk"]["S"]) + 1 if last else 1
            prev = last[0]["hash"]["S"] if last else GENESIS
            at = datetime.now(timezone.utc).isoformat()
            try:
                self.ddb.put_item(
                    TableName=self.table,
                    # sk zero-padded so that it sorts as a number
                    Item={"pk": {"S": "audit"}, "sk": {"S": f"{seq:012d}"}, "at": {"S": at}, "kind": {"S": kind},
                          "payload": {"S": body}, "prev_hash": {"S": prev}, "hash": {"S": digest(prev, at, kind, body)}},
                    ConditionExpression="attribute_not_exists(sk)",
                )
                return seq
            except Exception as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
        raise InProgress("audit log is contended; retry")

    def _rows(self) -> list[dict[str, Any]]:
        return [{"seq": int(r["sk"]["S"]), "at": r["at"]["S"], "kind": r["kind"]["S"], "payload": r["payload"]["S"],
                 "prev_hash": r["prev_hash"]["S"], "hash": r["hash"]["S"]} for r in self._query("audit")]

    def entries(self, limit: int | None = None) -> list[dict[str, Any]]:
        return entries_of(self._rows(), limit)

    def verify(self) -> tuple[bool, str]:
        return verify_chain(self._rows())


class DynamoRemediationState(_StateTable):
    def last_executed(self, target: str, action: str) -> float | None:
        item = self.ddb.get_item(TableName=self.table, Key={"pk": {"S": "cooldown"}, "sk": {"S": f"{target}#{action}"}},
                                 ConsistentRead=True).get("Item")
        return None if item is None else float(item["at"]["N"])

    def count_since(self, since: float) -> int:
        return len(self._query("actions", KeyConditionExpression="pk = :pk AND sk >= :since",
                               ExpressionAttributeValues={":since": {"S": f"{since:020.6f}"}}))

    def record(self, target: str, action: str, at: float, request_id: str | None = None) -> None:
        rid = request_id or uuid.uuid4().hex
        try:
            self.ddb.transact_write_items(TransactItems=[
                {"Put": {"TableName": self.table, "Item": {"pk": {"S": "recorded"}, "sk": {"S": rid}},
                         "ConditionExpression": "attribute_not_exists(sk)"}},
                {"Put": {"TableName": self.table, "Item": {"pk": {"S": "cooldown"}, "sk": {"S": f"{target}#{action}"},
                                                           "at": {"N": repr(at)}}}},
                {"Put": {"TableName": self.table, "Item": {"pk": {"S": "actions"}, "sk": {"S": f"{at:020.6f}#{rid}"},
                                                           "target": {"S": target}, "action": {"S": action}}}},
            ])
        except Exception as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise  # cancelled = this request id was already recorded: once is enough

    def hold(self, request_id: str, body: str, reason: str, at: float) -> None:
        try:  # first hold wins, like INSERT OR IGNORE: a redelivered request is held once
            self.ddb.put_item(TableName=self.table, Item={
                "pk": {"S": "held"}, "sk": {"S": request_id}, "body": {"S": body}, "reason": {"S": reason},
                "at": {"N": repr(at)}}, ConditionExpression="attribute_not_exists(sk)")
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise

    def held(self) -> list[dict[str, Any]]:
        rows = [r for r in self._query("held") if "decision" not in r]
        rows.sort(key=lambda r: float(r["at"]["N"]))
        return [{"request_id": r["sk"]["S"], "reason": r["reason"]["S"], "at": float(r["at"]["N"]),
                 **json.loads(r["body"]["S"])} for r in rows]

    def release_hold(self, request_id: str, decision: str) -> str | None:
        try:
            res = self.ddb.update_item(
                TableName=self.table, Key={"pk": {"S": "held"}, "sk": {"S": request_id}},
                UpdateExpression="SET decision = :d", ConditionExpression="attribute_exists(sk) AND attribute_not_exists(decision)",
                ExpressionAttributeValues={":d": {"S": decision}}, ReturnValues="ALL_NEW")
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        return res["Attributes"]["body"]["S"]
