"""Small helpers over boto3 / raw calls used by several test modules."""
from __future__ import annotations

import collections
import datetime
import json

from vedette_harness import Account, raw_request


def list_all_ids(gd, detector_id: str, page_size: int = 50, **kwargs) -> list[str]:
    """Every finding id, in server order, through boto3's ListFindings paginator."""
    pages = gd.get_paginator("list_findings").paginate(
        DetectorId=detector_id, PaginationConfig={"PageSize": page_size}, **kwargs)
    ids = [fid for page in pages for fid in page["FindingIds"]]
    repeated = [i for i, n in collections.Counter(ids).items() if n > 1]
    assert not repeated, f"ListFindings repeated {len(repeated)} of {len(ids)} ids across pages, e.g. {repeated[:3]}"
    return ids


def get_findings(gd, detector_id: str, ids: list[str], **kwargs) -> list[dict]:
    out = []
    for start in range(0, len(ids), 50):
        out += gd.get_findings(DetectorId=detector_id, FindingIds=ids[start:start + 50], **kwargs)["Findings"]
    return out


def get_findings_wire(endpoint: str, account: Account, detector_id: str, ids: list[str]) -> list[dict]:
    """GetFindings as raw wire JSON (camelCase), the form FindingCriteria paths refer to."""
    out = []
    for start in range(0, len(ids), 50):
        resp = raw_request(endpoint, "POST", f"/detector/{detector_id}/findings/get",
                           {"findingIds": ids[start:start + 50]}, account=account)
        assert resp.status == 200, (resp.status, resp.body)
        out += resp.json()["findings"]
    return out


def additional_info(finding: dict) -> dict:
    """The `additionalInfo.value` JSON text decoded (boto3 or wire casing)."""
    service = finding.get("Service") or finding.get("service") or {}
    info = service.get("AdditionalInfo") or service.get("additionalInfo") or {}
    value = info.get("Value") or info.get("value")
    return json.loads(value) if value else {}


def iso_to_ms(text: str) -> int:
    dt = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return round(dt.timestamp() * 1000)
