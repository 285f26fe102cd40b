"""Writes CloudTrail log files as CloudTrail delivers them: gzipped `{"Records":[...]}` objects in
an `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/` tree, with realistic records."""
from __future__ import annotations

import datetime
import gzip
import json
import secrets
import uuid
from pathlib import Path

CLI_UA = "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off command/{cmd}"
KALI_UA = "aws-cli/1.18.69 Python/3.8.5 Linux/5.7.0-kali1-amd64 botocore/1.17.55"
PARROT_UA = "Boto3/1.26.0 Python/3.10.9 Linux/6.0.0-12parrot1-amd64 Botocore/1.29.0"
PENTOO_UA = "aws-cli/2.9.1 Python/3.9.11 Linux/5.15.0-pentoo exe/x86_64.pentoo"


def iso(t: datetime.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def access_key(prefix: str = "AKIA") -> str:
    return prefix + secrets.token_hex(8).upper()


def root_identity(account: str, key: str) -> dict:
    return {
        "type": "Root",
        "principalId": account,
        "arn": f"arn:aws:iam::{account}:root",
        "accountId": account,
        "accessKeyId": key,
        "sessionContext": {"sessionIssuer": {}, "webIdFederationData": {},
                           "attributes": {"creationDate": "2026-11-25T07:00:00Z", "mfaAuthenticated": "false"}},
    }


def iam_user_identity(account: str, user: str, key: str) -> dict:
    return {
        "type": "IAMUser",
        "principalId": "AIDA" + secrets.token_hex(8).upper(),
        "arn": f"arn:aws:iam::{account}:user/{user}",
        "accountId": account,
        "accessKeyId": key,
        "userName": user,
    }


def assumed_role_identity(account: str, role: str, session: str) -> dict:
    role_id = "AROA" + secrets.token_hex(8).upper()
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "accessKeyId": access_key("ASIA"),
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": role_id, "arn": f"arn:aws:iam::{account}:role/{role}",
                              "accountId": account, "userName": role},
            "webIdFederationData": {},
            "attributes": {"creationDate": "2026-11-25T06:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def record(identity: dict, event_time: datetime.datetime, source: str, name: str, *, account: str,
           region: str = "us-east-1", ip: str = "203.0.113.7", user_agent: str | None = None,
           error_code: str | None = None, error_message: str | None = None, request: dict | None = None,
           response: dict | None = None, read_only: bool = False, resources: list | None = None) -> dict:
    rec = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": iso(event_time),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": user_agent or CLI_UA.format(cmd=name.lower()),
        "requestParameters": request,
        "responseElements": response,
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                       "clientProvidedHostHeader": source.replace(".amazonaws.com", "") + ".amazonaws.com"},
    }
    if error_code:
        rec["errorCode"] = error_code
        rec["errorMessage"] = error_message or f"User is not authorized to perform: {name}"
    if resources is not None:
        rec["resources"] = resources
    return rec


def write_log_file(root: Path, account: str, records: list[dict], region: str = "us-east-1",
                   when: datetime.datetime | None = None, gz: bool = True) -> Path:
    """One CloudTrail object, named and placed as CloudTrail names and places it."""
    when = when or datetime.datetime.now(datetime.timezone.utc)
    folder = root / "AWSLogs" / account / "CloudTrail" / region / f"{when:%Y}" / f"{when:%m}" / f"{when:%d}"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{account}_CloudTrail_{region}_{when:%Y%m%dT%H%MZ}_{secrets.token_urlsafe(12).replace('-', 'x').replace('_', 'y')}.json"
    payload = json.dumps({"Records": records}).encode()
    if gz:
        path = folder / (name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path = folder / name
        path.write_bytes(payload)
    return path


def write_digest_file(root: Path, account: str, region: str = "us-east-1") -> Path:
    """A CloudTrail digest object: ingest must skip it, not count it as bad input."""
    when = datetime.datetime.now(datetime.timezone.utc)
    folder = root / "AWSLogs" / account / "CloudTrail-Digest" / region / f"{when:%Y}" / f"{when:%m}" / f"{when:%d}"
    folder.mkdir(parents=True, exist_ok=True)
    digest = {"awsAccountId": account, "digestStartTime": iso(when), "digestEndTime": iso(when),
              "digestS3Bucket": "trail-bucket", "digestS3Object": "x", "logFiles": [],
              "digestPublicKeyFingerprint": secrets.token_hex(16), "digestSignatureAlgorithm": "SHA256withRSA"}
    path = folder / f"{account}_CloudTrail-Digest_{region}_trail_{region}_{when:%Y%m%dT%H%M%SZ}.json.gz"
    path.write_bytes(gzip.compress(json.dumps(digest).encode()))
    return path


def anonymous_bucket_policy(bucket: str) -> dict:
    # CloudTrail records the policy as a parsed object under `bucketPolicy` (and `policy: [""]`).
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/*"}]}


def scenario(account: str, base: datetime.datetime) -> dict[str, list[dict]]:
    """The issue-8 scenario, named so tests can find each finding: records by label."""
    t = lambda minutes: base + datetime.timedelta(minutes=minutes)  # noqa: E731
    root_key_denied, root_key_ok = access_key("ASIA"), access_key("ASIA")
    alice_key, mallory_key, bob_key = access_key(), access_key(), access_key()
    bucket = f"corp-public-{account}"
    return {
        "root_denied": [record(root_identity(account, root_key_denied), t(1), "iam.amazonaws.com", "CreateUser",
                               account=account, ip="198.51.100.23", error_code="AccessDenied",
                               error_message="An AWS Organizations SCP denies this action",
                               request={"userName": "backdoor"})],
        "root_ok": [record(root_identity(account, root_key_ok), t(2), "iam.amazonaws.com", "CreateUser",
                           account=account, ip="198.51.100.24", request={"userName": "backdoor2"},
                           response={"user": {"userName": "backdoor2", "path": "/",
                                              "arn": f"arn:aws:iam::{account}:user/backdoor2"}})],
        "stop_logging": [record(iam_user_identity(account, "alice", alice_key), t(3), "cloudtrail.amazonaws.com",
                                "StopLogging", account=account,
                                request={"name": f"arn:aws:cloudtrail:us-east-1:{account}:trail/management"})],
        "public_policy": [record(iam_user_identity(account, "alice", alice_key), t(4), "s3.amazonaws.com",
                                 "PutBucketPolicy", account=account,
                                 request={"bucketName": bucket, "Host": [f"{bucket}.s3.amazonaws.com"],
                                          "bucketPolicy": anonymous_bucket_policy(bucket), "policy": [""]},
                                 resources=[{"type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}])],
        "kali": [record(iam_user_identity(account, "mallory", mallory_key), t(5), "ec2.amazonaws.com",
                        "DescribeInstances", account=account, user_agent=KALI_UA, read_only=True,
                        ip="192.0.2.66", request={"maxResults": 1000})],
        "benign": [record(iam_user_identity(account, "bob", bob_key), t(6), "ec2.amazonaws.com",
                          "DescribeInstances", account=account, read_only=True, request={"maxResults": 5}),
                   record(assumed_role_identity(account, "ci-deployer", "build-1234"), t(7),
                          "lambda.amazonaws.com", "ListFunctions20150331", account=account, read_only=True,
                          ip="lambda.amazonaws.com", user_agent="lambda.amazonaws.com")],
    }


S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"


def all_off_public_access_block() -> dict:
    return {"xmlns": S3_XMLNS, "BlockPublicAcls": False, "IgnorePublicAcls": False,
            "BlockPublicPolicy": False, "RestrictPublicBuckets": False}


def more_scenario(account: str, base: datetime.datetime) -> dict[str, list[dict]]:
    """The other issue-8 types, one labelled record each, as CloudTrail writes them."""
    t = lambda minutes: base + datetime.timedelta(minutes=minutes)  # noqa: E731
    erin = iam_user_identity(account, "erin", access_key())
    frank = iam_user_identity(account, "frank", access_key())
    bucket = f"shared-reports-{account}"
    host = [f"{bucket}.s3.amazonaws.com"]
    return {
        "password_policy_denied": [record(frank, t(1), "iam.amazonaws.com", "DeleteAccountPasswordPolicy",
                                          account=account, error_code="AccessDenied")],
        "parrot": [record(iam_user_identity(account, "grace", access_key()), t(2), "sts.amazonaws.com",
                          "GetCallerIdentity", account=account, user_agent=PARROT_UA, read_only=True)],
        "pentoo": [record(iam_user_identity(account, "heidi", access_key()), t(3), "s3.amazonaws.com",
                          "ListBuckets", account=account, user_agent=PENTOO_UA, read_only=True)],
        "bucket_bpa_off": [record(erin, t(4), "s3.amazonaws.com", "PutBucketPublicAccessBlock", account=account,
                                  request={"publicAccessBlock": [""], "bucketName": bucket, "Host": host,
                                           "PublicAccessBlockConfiguration": all_off_public_access_block()},
                                  resources=[{"type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}])],
        "account_bpa_off": [record(erin, t(5), "s3.amazonaws.com", "PutAccountPublicAccessBlock", account=account,
                                   request={"Host": [f"{account}.s3-control.us-east-1.amazonaws.com"],
                                            "PublicAccessBlockConfiguration": all_off_public_access_block()})],
        "authenticated_acl": [record(erin, t(6), "s3.amazonaws.com", "PutBucketAcl", account=account,
                                     request={"bucketName": bucket, "Host": host, "acl": [""],
                                              "AccessControlPolicy": {
                                                  "xmlns": S3_XMLNS,
                                                  "Owner": {"ID": secrets.token_hex(32)},
                                                  "AccessControlList": {"Grant": [
                                                      {"Grantee": {"xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
                                                                   "xsi:type": "Group",
                                                                   "URI": "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"},
                                                       "Permission": "READ"}]}}},
                                     resources=[{"type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}])],
        "logging_off": [record(erin, t(7), "s3.amazonaws.com", "PutBucketLogging", account=account,
                               request={"logging": [""], "bucketName": bucket, "Host": host,
                                        "BucketLoggingStatus": {"xmlns": S3_XMLNS}},
                               resources=[{"type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}])],
    }
