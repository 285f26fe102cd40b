"""An independent reference evaluator of GuardDuty FindingCriteria and SortCriteria over wire-format
(camelCase) findings, written from docs/criteria.md, sharing no code with the server.

Semantics: `equals` = any listed value; `notEquals` = none of them; `gt/gte/lt/lte` numeric;
legacy aliases (eq, neq, gt, gte, lt, lte) merged with the new names; several operators in one
condition ANDed; distinct attributes ANDed. List-valued attributes: `equals` if any element matches,
`notEquals` if no element matches (so an absent attribute satisfies `notEquals`), ranges if any
element satisfies. `equals` on severity compares floor(severity). Booleans compare as "true"/"false".
Times compare as epoch milliseconds.
"""
from __future__ import annotations

import datetime
import json
import math
import operator

TIME_PATHS = {"updatedAt", "createdAt", "service.eventFirstSeen", "service.eventLastSeen",
              "resource.instanceDetails.launchTime", "resource.s3BucketDetails.createdAt"}
NUMERIC_PATHS = {"severity", "confidence", "service.count",
                 "service.action.networkConnectionAction.localPortDetails.port",
                 "service.action.networkConnectionAction.remotePortDetails.port",
                 "service.action.portProbeAction.portProbeDetails.localPortDetails.port"}
BOOL_PATHS = {"service.archived", "service.additionalInfo.sample",
              "service.action.networkConnectionAction.blocked", "service.action.dnsRequestAction.blocked",
              "service.action.portProbeAction.blocked",
              "service.action.awsApiCallAction.remoteAccountDetails.affiliated"}
FLOOR_EQUALS = {"severity"}

EQUALS = ("eq", "equals")
NOT_EQUALS = ("neq", "notEquals")
RANGES = {"gt": operator.gt, "greaterThan": operator.gt, "gte": operator.ge, "greaterThanOrEqual": operator.ge,
          "lt": operator.lt, "lessThan": operator.lt, "lte": operator.le, "lessThanOrEqual": operator.le}


def kind(path: str) -> str:
    if path in TIME_PATHS:
        return "time"
    if path in NUMERIC_PATHS:
        return "num"
    if path in BOOL_PATHS:
        return "bool"
    return "str"


def to_ms(value) -> int:
    if isinstance(value, (int, float)):  # s3BucketDetails.createdAt: epoch seconds
        return round(value * 1000)
    dt = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return round(dt.timestamp() * 1000)


def raw_values(finding: dict, path: str) -> list:
    """Every value at a dotted path, flattening lists on the way; [] when absent."""
    parts = path.split(".")
    if parts[:2] == ["service", "additionalInfo"] and len(parts) == 3:
        info = finding.get("service", {}).get("additionalInfo", {})
        decoded = json.loads(info["value"]) if info.get("value") else {}
        return [decoded[parts[2]]] if parts[2] in decoded else []
    current = [finding]
    for part in parts:
        nxt = []
        for node in current:
            if isinstance(node, dict) and part in node:
                value = node[part]
                nxt.extend(value if isinstance(value, list) else [value])
        current = nxt
    return [v for v in current if v is not None]


def typed_values(finding: dict, path: str) -> list:
    k = kind(path)
    vals = raw_values(finding, path)
    if k == "time":
        return [to_ms(v) for v in vals]
    if k == "num":
        return [float(v) for v in vals]
    if k == "bool":
        return [bool(v) for v in vals]
    return [str(v) for v in vals]


def _equal(path: str, finding_value, criterion_value: str) -> bool:
    k = kind(path)
    if k == "bool":
        return ("true" if finding_value else "false") == criterion_value
    if k == "time":
        return finding_value == int(criterion_value)
    if k == "num":
        lhs = math.floor(finding_value) if path in FLOOR_EQUALS else finding_value
        return lhs == float(criterion_value)
    return finding_value == criterion_value


def condition_holds(finding: dict, path: str, condition: dict) -> bool:
    values = typed_values(finding, path)
    for op, operand in condition.items():
        if op in EQUALS:
            if not any(_equal(path, v, c) for v in values for c in operand):
                return False
        elif op in NOT_EQUALS:
            if any(_equal(path, v, c) for v in values for c in operand):
                return False
        elif op in RANGES:
            if not any(RANGES[op](v, operand) for v in values):
                return False
        else:
            raise ValueError(f"reference evaluator: unknown operator {op}")
    return True


def matches(finding: dict, criterion: dict) -> bool:
    return all(condition_holds(finding, path, cond) for path, cond in criterion.items())


def sort_key(finding: dict, path: str):
    values = typed_values(finding, path)
    assert len(values) == 1, f"sort attribute {path} must be single-valued, got {values}"
    return values[0]


def expected_orders(findings: list[dict], path: str, descending: bool) -> list[list[str]]:
    """The accepted orders: by key in the requested direction, ties by id — docs/criteria.md#sorting says
    "ties are broken by finding id" without a direction, so both id directions are accepted (each applied uniformly)."""
    orders = []
    for ids_descending in (False, True):
        # Two stable sorts: first by id, then by key.
        by_id = sorted(findings, key=lambda f: f["id"], reverse=ids_descending)
        ordered = sorted(by_id, key=lambda f: sort_key(f, path), reverse=descending)
        orders.append([f["id"] for f in ordered])
    return orders
