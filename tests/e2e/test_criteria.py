"""ListFindings criteria and sorting checked against criteria_ref (an independent evaluator) over
the same findings fetched with GetFindings: every operator, numeric / string / boolean / time /
list-valued attributes, legacy aliases, ASC/DESC sorts with ties by id, paging via boto3's paginator."""
from __future__ import annotations

import collections
import datetime
import statistics
import time

import pytest

import catalogue
import cloudtrail_logs as ct
import criteria_ref as ref
from conftest import _next_account, watch
from gdutil import get_findings_wire, list_all_ids
from vedette_harness import guardduty_client, run_vedette

NUMERIC = ["severity", "service.count"]
STRING = ["type", "resource.accessKeyDetails.userName", "service.action.awsApiCallAction.errorCode"]
BOOLEAN = ["service.archived"]
TIME = ["updatedAt", "service.eventLastSeen"]
LISTS = ["resource.instanceDetails.networkInterfaces.securityGroups.groupId",
         "resource.instanceDetails.tags.key"]
# Scalar attributes also worth a string equality check (docs/criteria.md#attribute-paths).
MORE_STRINGS = ["resource.resourceType", "service.action.actionType", "service.action.awsApiCallAction.api",
                "service.action.awsApiCallAction.serviceName", "resource.accessKeyDetails.userType",
                "resource.accessKeyDetails.accessKeyId", "region", "accountId", "service.resourceRole",
                "resource.instanceDetails.instanceId", "service.action.awsApiCallAction.callerType"]
PAGE = 9  # small pages so that most answers span several


class Dataset:
    def __init__(self, client, account, detector_id, findings):
        self.client, self.account, self.detector_id = client, account, detector_id
        self.findings = findings
        self.by_id = {f["id"]: f for f in findings}

    def listed(self, criterion: dict, sort: dict | None = None) -> list[str]:
        # Cases are written with wire operator names (eq, greaterThan, …); boto3 wants them
        # capitalised (Eq, GreaterThan, …) and serialises them back to the wire names.
        boto_criterion = {path: {op[0].upper() + op[1:]: v for op, v in cond.items()}
                          for path, cond in criterion.items()}
        kwargs = {"FindingCriteria": {"Criterion": boto_criterion}}
        if sort:
            kwargs["SortCriteria"] = sort
        return list_all_ids(self.client, self.detector_id, page_size=PAGE, **kwargs)

    def expected(self, criterion: dict) -> set[str]:
        return {f["id"] for f in self.findings if ref.matches(f, criterion)}


def ingest_activity(server, account_id: str, root) -> None:
    """CloudTrail activity giving AccessKey findings with varied users, error codes, counts, times."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    records = []
    codes = ["AccessDenied", "UnauthorizedOperation", "ThrottlingException", None]
    for i in range(8):
        key = ct.access_key("ASIA")
        identity = ct.root_identity(account_id, key)
        occurrences = 1 + i % 4  # counts 1..4
        for repeat in range(occurrences):
            when = now - datetime.timedelta(hours=20 - i * 2, minutes=-repeat * 7)
            # The latest occurrence's code (none for i = 3, 7) is what the finding shows.
            code = codes[i % 4] if repeat == occurrences - 1 else codes[(i + 1 + repeat) % 4]
            records.append(ct.record(identity, when, "iam.amazonaws.com", f"List{['Users', 'Roles'][i % 2]}",
                                     account=account_id, error_code=code, read_only=True,
                                     ip=f"198.51.100.{10 + i}"))
    for i, user in enumerate(["alice", "bob", "carol", "dave"]):
        key = ct.access_key()
        when = now - datetime.timedelta(hours=5 - i, minutes=i * 3)
        records.append(ct.record(ct.iam_user_identity(account_id, user, key), when, "ec2.amazonaws.com",
                                 "DescribeInstances", account=account_id, user_agent=ct.KALI_UA, read_only=True,
                                 error_code="AccessDenied" if i % 2 else None))
        records.append(ct.record(ct.iam_user_identity(account_id, user, key), when, "cloudtrail.amazonaws.com",
                                 "StopLogging", account=account_id,
                                 request={"name": f"arn:aws:cloudtrail:us-east-1:{account_id}:trail/t{i}"}))
    ct.write_log_file(root, account_id, records[: len(records) // 2])
    ct.write_log_file(root, account_id, records[len(records) // 2:])
    run_vedette("ingest", "--data-dir", str(server.data_dir), str(root / "AWSLogs"))


@pytest.fixture(scope="module")
def data(server, account_pool, tmp_path_factory) -> Dataset:
    account = _next_account(account_pool)
    client = watch(guardduty_client(server.endpoint, account))
    detector_id = client.create_detector(Enable=True)["DetectorId"]
    client.create_sample_findings(DetectorId=detector_id)
    # Regenerating some samples aggregates into them: counts 2 and 3, later updatedAt values.
    for repeat in range(2):
        time.sleep(0.02)
        client.create_sample_findings(DetectorId=detector_id, FindingTypes=catalogue.VPC_FLOW[: 8 - 4 * repeat])
    ingest_activity(server, account.account_id, tmp_path_factory.mktemp("trail"))
    ids = list_all_ids(client, detector_id)
    # Boolean / feedback variety: archive every third finding.
    archived = ids[::3]
    for start in range(0, len(archived), 50):
        client.archive_findings(DetectorId=detector_id, FindingIds=archived[start:start + 50])
    findings = get_findings_wire(server.endpoint, account, detector_id, ids)
    assert len(findings) == len(ids)
    kinds = collections.Counter(f["resource"]["resourceType"] for f in findings)
    assert kinds["AccessKey"] > 20 and kinds["Instance"] > 10, kinds
    return Dataset(client, account, detector_id, findings)


def check(data: Dataset, criterion: dict) -> None:
    got = data.listed(criterion)
    expected = data.expected(criterion)
    assert len(got) == len(set(got))
    missing, extra = expected - set(got), set(got) - expected
    assert not missing and not extra, (
        f"criterion {criterion}: {len(got)} listed, {len(expected)} expected; "
        f"missing {[(i, data.by_id[i]['type']) for i in sorted(missing)][:5]}, "
        f"extra {[(i, data.by_id[i]['type']) for i in sorted(extra)][:5]}")


def distinct(data: Dataset, path: str) -> list:
    return sorted({v for f in data.findings for v in ref.typed_values(f, path)})


def as_criterion_string(path: str, value) -> str:
    k = ref.kind(path)
    if k == "bool":
        return "true" if value else "false"
    if k == "num":
        return str(int(value)) if float(value).is_integer() else str(value)
    return str(value)


def equality_cases(data: Dataset, path: str) -> list[dict]:
    values = [as_criterion_string(path, v) for v in distinct(data, path)]
    assert values, f"the data set has no value for {path}: the test would prove nothing"
    picks = values[:1] + values[len(values) // 2: len(values) // 2 + 1] + values[-1:]
    cases = []
    for v in dict.fromkeys(picks):
        cases += [{path: {"equals": [v]}}, {path: {"eq": [v]}}, {path: {"notEquals": [v]}}, {path: {"neq": [v]}}]
    cases += [{path: {"equals": values[:2]}}, {path: {"notEquals": values[-2:]}},
              {path: {"equals": [absent_value(path)]}}, {path: {"notEquals": [absent_value(path)]}}]
    return cases


def absent_value(path: str) -> str:
    """A well-typed value no finding has."""
    return {"num": "987654", "time": "1", "bool": "false", "str": "vedette-no-such-value"}[ref.kind(path)]


def range_cases(path: str, thresholds: list[int]) -> list[dict]:
    # The legacy gt/gte/lt/lte are modelled as 32-bit integers, so epoch milliseconds only go
    # through the long-typed new names.
    legacy = ref.kind(path) != "time"
    ops = ("greaterThan", "greaterThanOrEqual", "lessThan", "lessThanOrEqual")
    if legacy:
        ops += ("gt", "gte", "lt", "lte")
    cases = [{path: {op: t}} for t in thresholds for op in ops]
    lo, hi = min(thresholds), max(thresholds)
    cases.append({path: {"greaterThanOrEqual": lo, "lessThan": hi}})   # a window: operators ANDed
    if legacy:
        cases.append({path: {"greaterThan": lo, "lte": hi}})           # legacy and new names mixed
    return cases


def ids_for(case):
    path, cond = next(iter(case.items()))
    return f"{path}:{cond}"


@pytest.mark.parametrize("path", NUMERIC)
def test_numeric_attributes(data, path):
    values = distinct(data, path)
    assert len(values) >= 3, (path, values)
    thresholds = sorted({int(values[0]), int(statistics.median(values)), int(values[-1]), int(values[-1]) + 1})
    for case in range_cases(path, thresholds) + equality_cases(data, path):
        check(data, case)


def test_severity_equals_compares_the_floor(data):
    """docs/criteria.md#operators: severity buckets are filtered as ["7","8"] etc."""
    check(data, {"severity": {"equals": ["7", "8"]}})
    check(data, {"severity": {"equals": ["1", "2", "3"]}})
    check(data, {"severity": {"notEquals": ["4", "5", "6"]}})
    high = data.expected({"severity": {"equals": ["7", "8"]}})
    assert high and all(7 <= data.by_id[i]["severity"] < 9 for i in high)


@pytest.mark.parametrize("path", STRING + MORE_STRINGS)
def test_string_attributes(data, path):
    for case in equality_cases(data, path):
        check(data, case)


@pytest.mark.parametrize("path", BOOLEAN + ["service.additionalInfo.sample"])
def test_boolean_attributes(data, path):
    for value in ("true", "false"):
        check(data, {path: {"equals": [value]}})
        check(data, {path: {"eq": [value]}})
        check(data, {path: {"notEquals": [value]}})
    check(data, {path: {"equals": ["true", "false"]}})


def test_archived_filter_partitions_the_findings(data):
    archived = set(data.listed({"service.archived": {"equals": ["true"]}}))
    active = set(data.listed({"service.archived": {"equals": ["false"]}}))
    assert archived and active and not archived & active
    assert archived | active == set(data.by_id)


@pytest.mark.parametrize("path", TIME)
def test_time_attributes(data, path):
    values = distinct(data, path)
    assert len(values) >= 3, (path, values)
    mid = values[len(values) // 2]
    thresholds = sorted({values[0], mid, mid + 1, values[-1], values[-1] + 1})
    for case in range_cases(path, thresholds):
        check(data, case)
    check(data, {path: {"equals": [str(mid)]}})
    check(data, {path: {"notEquals": [str(mid)]}})


@pytest.mark.parametrize("path", LISTS)
def test_list_valued_attributes(data, path):
    values = distinct(data, path)
    assert values, f"no finding has {path}"
    for case in equality_cases(data, path):
        check(data, case)


def test_several_attributes_are_anded(data):
    check(data, {"severity": {"gte": 5}, "service.archived": {"equals": ["false"]},
                 "resource.resourceType": {"equals": ["AccessKey"]}})
    check(data, {"type": {"equals": ["Policy:IAMUser/RootCredentialUsage"]},
                 "service.action.awsApiCallAction.errorCode": {"notEquals": ["AccessDenied"]},
                 "service.count": {"gt": 1}})
    check(data, {"service.action.awsApiCallAction.errorCode": {"equals": ["AccessDenied", "ThrottlingException"]},
                 "service.eventLastSeen": {"greaterThanOrEqual": distinct(data, "service.eventLastSeen")[3]}})


def test_error_code_absent_on_successful_calls(data):
    """Root findings whose latest call succeeded have no errorCode: `notEquals` any code keeps them."""
    codes = [as_criterion_string("x", v) for v in distinct(data, "service.action.awsApiCallAction.errorCode")]
    criterion = {"type": {"equals": ["Policy:IAMUser/RootCredentialUsage"]},
                 "service.action.awsApiCallAction.errorCode": {"notEquals": codes}}
    check(data, criterion)
    assert data.expected(criterion), "the data set lacks a root finding without errorCode"


SORTS = ["severity", "updatedAt", "type", "service.count", "service.eventLastSeen", "createdAt"]


@pytest.mark.parametrize("order", ["ASC", "DESC"])
@pytest.mark.parametrize("path", SORTS)
def test_sort_orders(data, path, order):
    got = data.listed({}, {"AttributeName": path, "OrderBy": order})
    assert got in ref.expected_orders(data.findings, path, order == "DESC"), (
        f"sort {path} {order}: first keys {[ref.sort_key(data.by_id[i], path) for i in got[:10]]}")


@pytest.mark.parametrize("order", ["ASC", "DESC"])
def test_sort_with_criteria(data, order):
    criterion = {"service.archived": {"equals": ["false"]}, "severity": {"gte": 4}}
    got = data.listed(criterion, {"AttributeName": "severity", "OrderBy": order})
    subset = [f for f in data.findings if ref.matches(f, criterion)]
    assert got in ref.expected_orders(subset, "severity", order == "DESC")


def test_get_findings_sort_matches_reference(data):
    ids = [f["id"] for f in data.findings][:50]
    for order in ("ASC", "DESC"):
        got = data.client.get_findings(DetectorId=data.detector_id, FindingIds=ids,
                                       SortCriteria={"AttributeName": "updatedAt", "OrderBy": order})["Findings"]
        subset = [data.by_id[i] for i in ids]
        assert [f["Id"] for f in got] in ref.expected_orders(subset, "updatedAt", order == "DESC")


def test_statistics_agree_with_reference(data):
    for criterion in ({}, {"service.archived": {"equals": ["false"]}},
                      {"resource.resourceType": {"equals": ["AccessKey"]}, "severity": {"lt": 5}}):
        stats = data.client.get_findings_statistics(
            DetectorId=data.detector_id, FindingStatisticTypes=["COUNT_BY_SEVERITY"],
            FindingCriteria={"Criterion": {p: {op[0].upper() + op[1:]: v for op, v in c.items()}
                                           for p, c in criterion.items()}})["FindingStatistics"]["CountBySeverity"]
        expected = collections.Counter(f["severity"] for f in data.findings if ref.matches(f, criterion))
        assert {float(k): v for k, v in stats.items()} == {float(k): v for k, v in expected.items()}, criterion


def test_reference_evaluator_is_not_trivial(data):
    """Guards the reference itself: each kind of test selects a proper, non-empty subset."""
    n = len(data.findings)
    for criterion in ({"severity": {"gte": 5}}, {"service.archived": {"equals": ["true"]}},
                      {"resource.instanceDetails.tags.key": {"equals": distinct(data, "resource.instanceDetails.tags.key")[:1]}},
                      {"service.action.awsApiCallAction.errorCode": {"equals": ["AccessDenied"]}},
                      {"service.count": {"gt": 1}}):
        assert 0 < len(data.expected(criterion)) < n, criterion
