#!/usr/bin/env python3
"""Writes examples/cloudtrail: a small CloudTrail delivery (our own records, written for Vedette) that raises
one finding of each CloudTrail type Vedette detects, among benign noise. Run: python3 tools/make_examples.py"""
import gzip, json, os, uuid, random

ACCT, REGION = "123456789012", "us-east-1"
random.seed(7)


def ident(kind="IAMUser", name="alice", key="AKIAEXAMPLEALICE0001"):
    if kind == "Root":
        return {"type": "Root", "principalId": ACCT, "arn": f"arn:aws:iam::{ACCT}:root", "accountId": ACCT,
                "accessKeyId": "ASIAEXAMPLEROOT00001"}
    if kind == "AssumedRole":
        return {"type": "AssumedRole", "principalId": f"AROAEXAMPLEROLE00001:{name}",
                "arn": f"arn:aws:sts::{ACCT}:assumed-role/deployer/{name}", "accountId": ACCT, "accessKeyId": key,
                "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEROLE00001",
                                                     "arn": f"arn:aws:iam::{ACCT}:role/deployer", "accountId": ACCT,
                                                     "userName": "deployer"},
                                   "attributes": {"creationDate": "2026-11-25T08:00:00Z", "mfaAuthenticated": "false"}}}
    return {"type": "IAMUser", "principalId": "AIDAEXAMPLE" + name.upper(), "arn": f"arn:aws:iam::{ACCT}:user/{name}",
            "accountId": ACCT, "accessKeyId": key, "userName": name}


CLI = "aws-cli/2.22.0 md/awscrt#0.23.4 ua/2.0 os/linux#6.1.0-28-amd64 md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#debian.12 md/prompt#off md/command#"
KALI = "aws-cli/2.23.6 md/awscrt#1.0.0.dev0 ua/2.0 os/linux#6.12.13-amd64 md/arch#x86_64 lang/python#3.13.2 md/pyimpl#CPython cfg/retry-mode#standard md/installer#source md/distrib#kali.2025 md/prompt#off md/command#"


def rec(minute, source, name, who, params=None, error=None, ip="203.0.113.24", ua=CLI, read_only=False, resp=None):
    r = {"eventVersion": "1.09", "userIdentity": who, "eventTime": f"2026-11-25T09:{minute:02d}:{random.randint(0,59):02d}Z",
         "eventSource": source, "eventName": name, "awsRegion": REGION, "sourceIPAddress": ip,
         "userAgent": ua + source.split(".")[0] + "." + name.lower(), "requestParameters": params,
         "responseElements": resp, "requestID": str(uuid.UUID(int=random.getrandbits(128))),
         "eventID": str(uuid.UUID(int=random.getrandbits(128))), "readOnly": read_only, "eventType": "AwsApiCall",
         "managementEvent": True, "recipientAccountId": ACCT, "eventCategory": "Management",
         "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                        "clientProvidedHostHeader": source.replace("amazonaws.com", f"{REGION}.amazonaws.com")}}
    if error:
        r["errorCode"], r["errorMessage"] = error
    return r


public_policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "PublicRead", "Effect": "Allow",
                            "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::example-public-site/*"}]})
records = [
    rec(1, "ec2.amazonaws.com", "DescribeInstances", ident(), {"maxResults": 100}, read_only=True),
    rec(2, "s3.amazonaws.com", "ListBuckets", ident(), {"Host": "s3.amazonaws.com"}, read_only=True),
    # Root credentials: a failed call (carries ErrorCode) and a successful one.
    rec(3, "iam.amazonaws.com", "CreateAccessKey", ident("Root"), {"userName": "backup"},
        error=("AccessDenied", "User: arn:aws:iam::123456789012:root is not authorized to perform: iam:CreateAccessKey")),
    rec(4, "iam.amazonaws.com", "ListUsers", ident("Root"), {}, read_only=True),
    rec(5, "cloudtrail.amazonaws.com", "StopLogging", ident("AssumedRole", "mallory", "ASIAEXAMPLEMALLORY01"),
        {"name": f"arn:aws:cloudtrail:{REGION}:{ACCT}:trail/management-events"}),
    rec(6, "iam.amazonaws.com", "UpdateAccountPasswordPolicy", ident(),
        {"minimumPasswordLength": 6, "requireSymbols": False, "requireNumbers": False, "requireUppercaseCharacters": False,
         "requireLowercaseCharacters": False, "allowUsersToChangePassword": True}),
    rec(7, "iam.amazonaws.com", "GetUser", ident("IAMUser", "bob", "AKIAEXAMPLEBOB000001"), {}, ua=KALI, read_only=True),
    rec(8, "s3.amazonaws.com", "PutBucketPolicy", ident(), {"bucketName": "example-public-site", "Host": "example-public-site.s3.amazonaws.com",
        "bucketPolicy": json.loads(public_policy), "policy": ""}),
    rec(9, "s3.amazonaws.com", "PutBucketLogging", ident(), {"bucketName": "example-logs", "Host": "example-logs.s3.amazonaws.com",
        "BucketLoggingStatus": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"}, "logging": ""}),
    rec(10, "s3.amazonaws.com", "DeleteBucketPublicAccessBlock", ident(), {"bucketName": "example-public-site",
        "Host": "example-public-site.s3.amazonaws.com", "publicAccessBlock": ""}),
    rec(11, "kms.amazonaws.com", "Decrypt", {"type": "AWSService", "invokedBy": "s3.amazonaws.com"}, {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
        ip="s3.amazonaws.com", read_only=True),
    rec(12, "iam.amazonaws.com", "CreateAccessKey", ident("Root"), {"userName": "backup"},
        error=("AccessDenied", "User: arn:aws:iam::123456789012:root is not authorized to perform: iam:CreateAccessKey")),
]
records.sort(key=lambda r: r["eventTime"])
d = f"examples/cloudtrail/AWSLogs/{ACCT}/CloudTrail/{REGION}/2026/11/25"
os.makedirs(d, exist_ok=True)
name = f"{ACCT}_CloudTrail_{REGION}_20261125T0915Z_VedetteExample01.json.gz"
with gzip.GzipFile(os.path.join(d, name), "wb", mtime=0) as f:
    f.write(json.dumps({"Records": records}, separators=(",", ":")).encode())
print(os.path.join(d, name), len(records), "records")
