"""The aws CLI, unmodified, against vedette: the founding workflow end to end."""
import json

from aws_cli import aws_json, run_aws


def test_cli_create_sample_list_get_shows_error_code(server, account):
    gd = ["guardduty"]
    detector_id = aws_json(server.endpoint, account, *gd, "create-detector", "--enable")["DetectorId"]
    out = run_aws(server.endpoint, account, *gd, "create-sample-findings", "--detector-id", detector_id)
    assert out.stdout.strip() in ("", "{}"), out.stdout

    ids = aws_json(server.endpoint, account, *gd, "list-findings", "--detector-id", detector_id)["FindingIds"]
    assert ids
    findings = aws_json(server.endpoint, account, *gd, "get-findings", "--detector-id", detector_id,
                        "--finding-ids", *ids[:50])["Findings"]
    assert sorted(f["Id"] for f in findings) == sorted(ids[:50])
    # Page through everything the CLI's own auto-pagination returns (list-findings paginates).
    all_ids = aws_json(server.endpoint, account, *gd, "list-findings", "--detector-id", detector_id,
                       "--page-size", "10")["FindingIds"]
    assert len(all_ids) == len(set(all_ids)) and len(all_ids) >= len(ids)
    found_error_code = False
    for start in range(0, len(all_ids), 50):
        raw = run_aws(server.endpoint, account, *gd, "get-findings", "--detector-id", detector_id,
                      "--finding-ids", *all_ids[start:start + 50]).stdout
        for f in json.loads(raw)["Findings"]:
            call = f["Service"]["Action"].get("AwsApiCallAction", {})
            found_error_code |= bool(call.get("ErrorCode"))
    assert found_error_code, "no finding printed by `aws guardduty get-findings` has ErrorCode"


def test_cli_filter_by_error_code_and_sort(server, account):
    gd = ["guardduty"]
    detector_id = aws_json(server.endpoint, account, *gd, "create-detector", "--enable")["DetectorId"]
    run_aws(server.endpoint, account, *gd, "create-sample-findings", "--detector-id", detector_id)
    all_ids = aws_json(server.endpoint, account, *gd, "list-findings", "--detector-id", detector_id)["FindingIds"]
    findings = []
    for start in range(0, len(all_ids), 50):
        findings += aws_json(server.endpoint, account, *gd, "get-findings", "--detector-id", detector_id,
                             "--finding-ids", *all_ids[start:start + 50])["Findings"]
    with_code = {f["Id"]: f["Service"]["Action"]["AwsApiCallAction"]["ErrorCode"] for f in findings
                 if f["Service"]["Action"].get("AwsApiCallAction", {}).get("ErrorCode")}
    assert with_code
    code = sorted(with_code.values())[0]
    criteria = json.dumps({"Criterion": {"service.action.awsApiCallAction.errorCode": {"Eq": [code]}}})
    ids = aws_json(server.endpoint, account, *gd, "list-findings", "--detector-id", detector_id,
                   "--finding-criteria", criteria,
                   "--sort-criteria", "AttributeName=severity,OrderBy=DESC")["FindingIds"]
    assert sorted(ids) == sorted(i for i, c in with_code.items() if c == code)
    severities = {f["Id"]: f["Severity"] for f in findings}
    assert [severities[i] for i in ids] == sorted((severities[i] for i in ids), reverse=True)


def test_cli_reports_bad_request_for_unknown_detector(server, account):
    proc = run_aws(server.endpoint, account, "guardduty", "get-detector", "--detector-id", "1" * 32, check=False)
    assert proc.returncode != 0
    assert "BadRequestException" in proc.stderr, proc.stderr


def test_cli_tags(server, account):
    detector_id = aws_json(server.endpoint, account, "guardduty", "create-detector", "--enable")["DetectorId"]
    arn = f"arn:aws:guardduty:us-east-1:{account.account_id}:detector/{detector_id}"
    run_aws(server.endpoint, account, "guardduty", "tag-resource", "--resource-arn", arn, "--tags", "k=v,team=red")
    tags = aws_json(server.endpoint, account, "guardduty", "list-tags-for-resource", "--resource-arn", arn)["Tags"]
    assert tags == {"k": "v", "team": "red"}
    run_aws(server.endpoint, account, "guardduty", "untag-resource", "--resource-arn", arn, "--tag-keys", "k")
    tags = aws_json(server.endpoint, account, "guardduty", "list-tags-for-resource", "--resource-arn", arn)["Tags"]
    assert tags == {"team": "red"}
