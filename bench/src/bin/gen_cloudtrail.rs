//! Generates a deterministic CloudTrail corpus laid out as CloudTrail delivers it:
//! `AWSLogs/<acct>/CloudTrail/<region>/YYYY/MM/DD/<acct>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<rand>.json.gz`,
//! each object `{"Records":[...]}` gzipped, closed once its *compressed* size reaches ~1 MB.
//!
//! Records mix services (ec2, s3, iam, sts, kms, lambda, cloudtrail, logs, ssm, secretsmanager,
//! dynamodb, signin), identity types (IAMUser, AssumedRole, AWSService, FederatedUser, AWSAccount,
//! Root), escaped IAM policy documents, S3 bucket policies and ACLs, failures with errorCode and
//! errorMessage, and ~2.3% records that should raise a GuardDuty finding (root usage, StopLogging /
//! DeleteTrail, Kali/Parrot/Pentoo user agents, public bucket policy / ACL, bucket logging
//! disabled, Block Public Access off, password policy weakened). Benign look-alikes (bucket
//! policies with `Principal:"*"` limited by a condition, logging enabled, strong password policy)
//! are mixed in too, so a detector cannot pass by matching event names alone.
//!
//! Every file depends only on (seed, file index): generation runs in parallel yet the output is
//! byte-identical between runs. Files split evenly over two days, so `DAY1` alone is half the data.
// `*rng.pick(&[..&str])` keeps T = &str; without the deref inference picks T = str.
#![allow(clippy::explicit_auto_deref)]

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, TimeZone, Utc};
use clap::Parser;
use flate2::Compression;
use flate2::write::GzEncoder;
use vedette_bench::{ALNUM, Json, Rng, UPPER_ALNUM};

#[derive(Parser)]
struct Args {
    /// Output directory (the AWSLogs tree is written under it).
    #[arg(long, default_value = "bench/data/cloudtrail")]
    out: PathBuf,
    #[arg(long, default_value_t = 20240514)]
    seed: u64,
    /// Delivery windows (5 minutes each) per account/region stream; must be even (two days).
    /// Files = 12 streams x windows. The default gives a little over 1 GiB uncompressed.
    #[arg(long, default_value_t = 14)]
    windows: usize,
    /// Close an object once its gzip output reaches this many bytes.
    #[arg(long, default_value_t = 1_000_000)]
    object_bytes: usize,
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

pub const ACCOUNTS: [&str; 3] = ["111122223333", "444455556666", "777788889999"];
pub const REGIONS: [&str; 4] = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"];
const DAY1: (i32, u32, u32) = (2024, 5, 14);

/// What a record should raise (counted into the manifest).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
enum Expect {
    RootCredentialUsage,
    CloudTrailLoggingDisabled,
    PenTestKali,
    PenTestParrot,
    PenTestPentoo,
    BucketAnonymousAccessGranted,
    BucketPublicAccessGranted,
    ServerAccessLoggingDisabled,
    BucketBlockPublicAccessDisabled,
    PasswordPolicyChange,
}

impl Expect {
    fn finding_type(self) -> &'static str {
        match self {
            Expect::RootCredentialUsage => "Policy:IAMUser/RootCredentialUsage",
            Expect::CloudTrailLoggingDisabled => "Stealth:IAMUser/CloudTrailLoggingDisabled",
            Expect::PenTestKali => "PenTest:IAMUser/KaliLinux",
            Expect::PenTestParrot => "PenTest:IAMUser/ParrotLinux",
            Expect::PenTestPentoo => "PenTest:IAMUser/PentooLinux",
            Expect::BucketAnonymousAccessGranted => "Policy:S3/BucketAnonymousAccessGranted",
            Expect::BucketPublicAccessGranted => "Policy:S3/BucketPublicAccessGranted",
            Expect::ServerAccessLoggingDisabled => "Stealth:S3/ServerAccessLoggingDisabled",
            Expect::BucketBlockPublicAccessDisabled => "Policy:S3/BucketBlockPublicAccessDisabled",
            Expect::PasswordPolicyChange => "Stealth:IAMUser/PasswordPolicyChange",
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    IamUser,
    AssumedRole,
    AwsService,
    FederatedUser,
    AwsAccount,
    Root,
}

/// One principal of an account, fixed for the whole corpus.
struct Principal {
    kind: Kind,
    /// user / role / federated name, or the service host for AWSService.
    name: String,
    principal_id: String,
    access_key_prefix: &'static str,
    access_key: String,
    /// For AssumedRole: the session name.
    session: String,
    /// For AWSAccount: the calling account.
    other_account: String,
    source_ip: String,
    user_agent: &'static str,
}

const BENIGN_AGENTS: &[&str] = &[
    "aws-cli/2.15.30 Python/3.11.8 Linux/5.10.210-201.852.amzn2.x86_64 exe/x86_64.amzn.2 prompt/off command/ec2.describe-instances",
    "aws-cli/2.13.25 Python/3.11.6 Darwin/23.1.0 exe/x86_64 prompt/off command/s3.ls",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.213-201.855.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69",
    "aws-sdk-go-v2/1.25.2 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.150.0",
    "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.42.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.25.3 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/s3#1.51.4",
    "aws-sdk-java/2.25.13 Linux/5.10.210-200.855.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    "aws-sdk-js/3.540.0 ua/2.0 os/linux#5.10.209-198.858.amzn2.x86_64 lang/js md/nodejs#20.11.1 api/lambda#3.540.0",
];
const KALI_AGENT: &str = "aws-cli/2.9.19 Python/3.11.2 Linux/6.5.0-kali3-amd64 exe/x86_64.kali.2023 prompt/off command/iam.list-users";
const PARROT_AGENT: &str = "aws-cli/2.9.19 Python/3.11.2 Linux/6.5.0-13parrot1-amd64 exe/x86_64.parrot.5 prompt/off command/s3.ls";
const PENTOO_AGENT: &str = "Boto3/1.28.40 Python/3.11.5 Linux/6.1.55-pentoo Botocore/1.31.40";

const USER_NAMES: &[&str] = &[
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "ci-deploy",
    "terraform",
    "backup-agent",
    "reporting",
    "mallory",
];
const ROLE_NAMES: &[&str] = &[
    "OrganizationAccountAccessRole",
    "AWSReservedSSO_AdministratorAccess_3f1a2b4c5d6e7f80",
    "AWSReservedSSO_ReadOnlyAccess_0a9b8c7d6e5f4a3b",
    "lambda-orders-processor-role",
    "ecsTaskExecutionRole",
    "eks-nodegroup-NodeInstanceRole-1R9X7Y3ZQ4",
    "GitHubActionsDeployRole",
    "DatadogIntegrationRole",
];
const SERVICES_AS_CALLERS: &[&str] = &[
    "lambda.amazonaws.com",
    "cloudformation.amazonaws.com",
    "autoscaling.amazonaws.com",
    "ec2.amazonaws.com",
    "config.amazonaws.com",
    "elasticloadbalancing.amazonaws.com",
];

fn account_principals(rng: &mut Rng, account: &str) -> Vec<Principal> {
    let mut out = Vec::new();
    let ip = |rng: &mut Rng| -> String {
        // Public unicast ranges typical of corporate egress and cloud NAT.
        let first = *rng.pick(&[3u64, 18, 34, 52, 54, 81, 91, 109, 185, 198]);
        format!("{first}.{}.{}.{}", rng.below(256), rng.below(256), rng.range(1, 254))
    };
    for name in USER_NAMES {
        out.push(Principal {
            kind: Kind::IamUser,
            name: name.to_string(),
            principal_id: format!("AIDA{}", rng.chars(UPPER_ALNUM, 17)),
            access_key_prefix: "AKIA",
            access_key: rng.chars(UPPER_ALNUM, 16),
            session: String::new(),
            other_account: String::new(),
            source_ip: ip(rng),
            user_agent: *rng.pick(BENIGN_AGENTS),
        });
    }
    for name in ROLE_NAMES {
        for _ in 0..3 {
            let session = if name.starts_with("eks") {
                format!("i-0{}", rng.hex(16))
            } else if name.starts_with("AWSReserved") {
                format!("{}@example.com", rng.pick(USER_NAMES))
            } else {
                format!("{}", rng.range(1_700_000_000_000, 1_716_000_000_000))
            };
            out.push(Principal {
                kind: Kind::AssumedRole,
                name: name.to_string(),
                principal_id: format!("AROA{}", rng.chars(UPPER_ALNUM, 17)),
                access_key_prefix: "ASIA",
                access_key: rng.chars(UPPER_ALNUM, 16),
                session,
                other_account: String::new(),
                source_ip: ip(rng),
                user_agent: *rng.pick(BENIGN_AGENTS),
            });
        }
    }
    for host in SERVICES_AS_CALLERS {
        out.push(Principal {
            kind: Kind::AwsService,
            name: host.to_string(),
            principal_id: String::new(),
            access_key_prefix: "",
            access_key: String::new(),
            session: String::new(),
            other_account: String::new(),
            source_ip: host.to_string(),
            user_agent: host,
        });
    }
    for name in ["partner-etl", "support-portal"] {
        out.push(Principal {
            kind: Kind::FederatedUser,
            name: name.to_string(),
            principal_id: format!("{account}:{name}"),
            access_key_prefix: "ASIA",
            access_key: rng.chars(UPPER_ALNUM, 16),
            session: String::new(),
            other_account: String::new(),
            source_ip: ip(rng),
            user_agent: *rng.pick(BENIGN_AGENTS),
        });
    }
    for other in ["210987654321", "998877665544"] {
        out.push(Principal {
            kind: Kind::AwsAccount,
            name: String::new(),
            principal_id: format!("AROA{}:{}", rng.chars(UPPER_ALNUM, 17), rng.hex(8)),
            access_key_prefix: "ASIA",
            access_key: rng.chars(UPPER_ALNUM, 16),
            session: String::new(),
            other_account: other.to_string(),
            source_ip: ip(rng),
            user_agent: *rng.pick(BENIGN_AGENTS),
        });
    }
    out.push(Principal {
        kind: Kind::Root,
        name: String::new(),
        principal_id: account.to_string(),
        access_key_prefix: "ASIA",
        access_key: rng.chars(UPPER_ALNUM, 16),
        session: String::new(),
        other_account: String::new(),
        source_ip: ip(rng),
        user_agent: BENIGN_AGENTS[6],
    });
    out
}

struct Stream {
    account: &'static str,
    region: &'static str,
    principals: Vec<Principal>,
    buckets: Vec<String>,
    instances: Vec<String>,
    keys: Vec<String>,
    functions: Vec<String>,
}

impl Stream {
    fn new(seed: u64, account: &'static str, region: &'static str) -> Stream {
        // Principals depend on the account only: the same users act in every Region.
        let mut acct_rng = Rng::new(seed ^ account.parse::<u64>().unwrap());
        let principals = account_principals(&mut acct_rng, account);
        let mut rng = Rng::new(seed ^ account.parse::<u64>().unwrap() ^ fnv(region));
        let buckets = (0..40)
            .map(|i| format!("{}-{}-{}-{i}", rng.pick(&["logs", "assets", "backups", "data-lake", "artifacts", "static-site"]), account, region))
            .collect();
        let instances = (0..60).map(|_| format!("i-0{}", rng.hex(16))).collect();
        let keys = (0..8).map(|_| rng.uuid()).collect();
        let functions = (0..12).map(|i| format!("{}-{i}", rng.pick(&["orders", "thumbnailer", "etl", "auth", "notifier"]))).collect();
        Stream { account, region, principals, buckets, instances, keys, functions }
    }

    fn is_global_region(&self) -> bool {
        self.region == "us-east-1"
    }

    fn principal(&self, rng: &mut Rng, kind: Kind) -> &Principal {
        let of_kind: Vec<&Principal> = self.principals.iter().filter(|p| p.kind == kind).collect();
        of_kind[rng.below(of_kind.len() as u64) as usize]
    }
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `userIdentity` as CloudTrail writes it for each identity type.
fn user_identity(j: &mut Json, p: &Principal, account: &str, t: DateTime<Utc>, invoked_by: Option<&str>) {
    j.obj("userIdentity");
    match p.kind {
        Kind::IamUser => {
            j.str("type", "IAMUser")
                .str("principalId", &p.principal_id)
                .str("arn", &format!("arn:aws:iam::{account}:user/{}", p.name))
                .str("accountId", account)
                .str("accessKeyId", &format!("{}{}", p.access_key_prefix, p.access_key))
                .str("userName", &p.name);
        }
        Kind::AssumedRole => {
            j.str("type", "AssumedRole")
                .str("principalId", &format!("{}:{}", p.principal_id, p.session))
                .str("arn", &format!("arn:aws:sts::{account}:assumed-role/{}/{}", p.name, p.session))
                .str("accountId", account)
                .str("accessKeyId", &format!("{}{}", p.access_key_prefix, p.access_key));
            j.obj("sessionContext");
            j.obj("sessionIssuer")
                .str("type", "Role")
                .str("principalId", &p.principal_id)
                .str("arn", &format!("arn:aws:iam::{account}:role/{}", p.name))
                .str("accountId", account)
                .str("userName", &p.name)
                .end();
            if p.session.starts_with("i-") {
                // Instance-profile credentials, as EC2 delivers them (IMDSv2).
                j.str("ec2RoleDelivery", "2.0");
            }
            j.obj("attributes")
                .str("creationDate", &ts(t - Duration::minutes(37)))
                .str("mfaAuthenticated", if p.name.starts_with("AWSReserved") { "true" } else { "false" })
                .end();
            j.end();
            if let Some(by) = invoked_by {
                j.str("invokedBy", by);
            }
        }
        Kind::AwsService => {
            j.str("type", "AWSService").str("invokedBy", &p.name);
        }
        Kind::FederatedUser => {
            j.str("type", "FederatedUser")
                .str("principalId", &p.principal_id)
                .str("arn", &format!("arn:aws:sts::{account}:federated-user/{}", p.name))
                .str("accountId", account)
                .str("accessKeyId", &format!("{}{}", p.access_key_prefix, p.access_key));
            j.obj("sessionContext");
            j.obj("sessionIssuer")
                .str("type", "IAMUser")
                .str("principalId", &format!("AIDA{}", &p.access_key))
                .str("arn", &format!("arn:aws:iam::{account}:user/federation-broker"))
                .str("accountId", account)
                .str("userName", "federation-broker")
                .end();
            j.obj("attributes").str("creationDate", &ts(t - Duration::minutes(12))).str("mfaAuthenticated", "false").end();
            j.end();
        }
        Kind::AwsAccount => {
            j.str("type", "AWSAccount").str("principalId", &p.principal_id).str("accountId", &p.other_account);
        }
        Kind::Root => {
            j.str("type", "Root")
                .str("principalId", &p.principal_id)
                .str("arn", &format!("arn:aws:iam::{account}:root"))
                .str("accountId", account)
                .str("accessKeyId", &format!("{}{}", p.access_key_prefix, p.access_key));
            j.obj("sessionContext");
            j.obj("attributes").str("creationDate", &ts(t - Duration::minutes(3))).str("mfaAuthenticated", "true").end();
            j.end();
        }
    }
    j.end();
}

/// An event's service-specific part.
struct Event {
    source: &'static str,
    name: &'static str,
    read_only: bool,
    request: Option<String>,
    response: Option<String>,
    resources: Option<String>,
    additional: Option<String>,
    event_type: &'static str,
    /// Failures this call typically sees: (errorCode, errorMessage).
    errors: &'static [(&'static str, &'static str)],
}

const DENIED: &[(&str, &str)] =
    &[("AccessDenied", "User is not authorized to perform this operation because no identity-based policy allows the action")];
const EC2_ERRORS: &[(&str, &str)] = &[
    (
        "Client.UnauthorizedOperation",
        "You are not authorized to perform this operation. User: arn:aws:sts::000000000000:assumed-role/x/y is not authorized to perform: ec2:RunInstances because no identity-based policy allows the ec2:RunInstances action.",
    ),
    ("Client.InvalidInstanceID.NotFound", "The instance ID 'i-0abcdef1234567890' does not exist"),
    ("Client.RequestLimitExceeded", "Request limit exceeded."),
];
const S3_ERRORS: &[(&str, &str)] = &[
    ("AccessDenied", "Access Denied"),
    ("NoSuchBucketPolicy", "The bucket policy does not exist"),
    ("NoSuchBucket", "The specified bucket does not exist"),
];
const IAM_ERRORS: &[(&str, &str)] = &[
    (
        "AccessDenied",
        "User: arn:aws:iam::000000000000:user/x is not authorized to perform: iam:GetUser on resource: user y because no identity-based policy allows the iam:GetUser action",
    ),
    ("NoSuchEntityException", "The user with name svc cannot be found."),
];
const KMS_ERRORS: &[(&str, &str)] = &[
    (
        "AccessDeniedException",
        "User is not authorized to perform: kms:Decrypt on this resource because the resource does not exist in this Region, no resource-based policies allow access, or a resource-based policy explicitly denies access",
    ),
    ("ThrottlingException", "Rate exceeded"),
];
const GENERIC_ERRORS: &[(&str, &str)] =
    &[("AccessDenied", "Access Denied"), ("ThrottlingException", "Rate exceeded"), ("ResourceNotFoundException", "Requested resource not found")];

fn ev(source: &'static str, name: &'static str, read_only: bool) -> Event {
    Event {
        source,
        name,
        read_only,
        request: None,
        response: None,
        resources: None,
        additional: None,
        event_type: "AwsApiCall",
        errors: GENERIC_ERRORS,
    }
}

fn iam_policy_document(rng: &mut Rng, account: &str) -> String {
    // IAM writes policy documents into CloudTrail as escaped strings, pretty-printed as submitted.
    let actions = [
        "\"s3:GetObject\",\n        \"s3:ListBucket\"",
        "\"dynamodb:GetItem\",\n        \"dynamodb:PutItem\",\n        \"dynamodb:Query\"",
        "\"logs:CreateLogStream\",\n        \"logs:PutLogEvents\"",
        "\"kms:Decrypt\",\n        \"kms:GenerateDataKey\"",
        "\"sqs:SendMessage\",\n        \"sqs:ReceiveMessage\",\n        \"sqs:DeleteMessage\"",
    ];
    format!(
        "{{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {{\n      \"Sid\": \"Stmt{}\",\n      \"Effect\": \"Allow\",\n      \"Action\": [\n        {}\n      ],\n      \"Resource\": [\n        \"arn:aws:s3:::app-{account}-{}\",\n        \"arn:aws:s3:::app-{account}-{}/*\"\n      ],\n      \"Condition\": {{\n        \"StringEquals\": {{\n          \"aws:PrincipalAccount\": \"{account}\"\n        }}\n      }}\n    }}\n  ]\n}}",
        rng.range(1_000_000_000, 9_999_999_999),
        rng.pick(&actions),
        rng.below(50),
        rng.below(50)
    )
}

fn trust_policy(service: &str) -> String {
    format!(
        "{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Principal\":{{\"Service\":\"{service}\"}},\"Action\":\"sts:AssumeRole\"}}]}}"
    )
}

/// A bucket policy as CloudTrail records it for PutBucketPolicy: a JSON object (S3 parses it).
fn bucket_policy(j: &mut Json, bucket: &str, principal_json: &str, condition: Option<&str>) {
    j.obj("bucketPolicy").str("Version", "2012-10-17").arr("Statement").begin();
    j.str("Sid", "AllowRead").str("Effect", "Allow").raw("Principal", principal_json);
    j.raw("Action", "[\"s3:GetObject\",\"s3:GetObjectVersion\"]").str("Resource", &format!("arn:aws:s3:::{bucket}/*"));
    if let Some(c) = condition {
        j.raw("Condition", c);
    }
    j.end().end_arr().end();
}

fn s3_host(j: &mut Json, bucket: &str, region: &str) {
    j.str("Host", &format!("{bucket}.s3.{region}.amazonaws.com"));
}

fn s3_additional(rng: &mut Rng) -> String {
    let mut j = Json::new();
    j.begin()
        .str("SignatureVersion", "SigV4")
        .str("CipherSuite", "TLS_AES_128_GCM_SHA256")
        .num("bytesTransferredIn", 0)
        .str("AuthenticationMethod", "AuthHeader")
        .str("x-amz-id-2", &format!("{}=", rng.chars(ALNUM, 75)))
        .num("bytesTransferredOut", rng.range(0, 4000) as i64)
        .end();
    j.take()
}

/// A benign (no-finding) event for this stream and caller.
fn benign_event(rng: &mut Rng, s: &Stream, caller: Kind, t: DateTime<Utc>) -> Event {
    let acct = s.account;
    let region = s.region;
    if caller == Kind::AwsService {
        return match rng.below(4) {
            0 | 1 => {
                let mut e = ev("kms.amazonaws.com", if rng.chance(0.7) { "Decrypt" } else { "GenerateDataKey" }, true);
                let key = rng.pick(&s.keys);
                let mut j = Json::new();
                j.begin()
                    .obj("encryptionContext")
                    .str("aws:lambda:FunctionArn", &format!("arn:aws:lambda:{region}:{acct}:function:{}", rng.pick(&s.functions)))
                    .end()
                    .str("encryptionAlgorithm", "SYMMETRIC_DEFAULT")
                    .end();
                e.request = Some(j.take());
                e.resources =
                    Some(format!("[{{\"accountId\":\"{acct}\",\"type\":\"AWS::KMS::Key\",\"ARN\":\"arn:aws:kms:{region}:{acct}:key/{key}\"}}]"));
                e.errors = KMS_ERRORS;
                e
            }
            2 => {
                let mut e = ev("sts.amazonaws.com", "AssumeRole", false);
                let role = rng.pick(ROLE_NAMES);
                let mut j = Json::new();
                j.begin()
                    .str("roleArn", &format!("arn:aws:iam::{acct}:role/{role}"))
                    .str("roleSessionName", &format!("{}", rng.range(1_700_000_000, 1_716_000_000)))
                    .end();
                e.request = Some(j.take());
                let mut r = Json::new();
                r.begin()
                    .obj("credentials")
                    .str("accessKeyId", &format!("ASIA{}", rng.chars(UPPER_ALNUM, 16)))
                    .str("sessionToken", &rng.chars(ALNUM, 356))
                    .str("expiration", &t.format("%b %-d, %Y, %-I:%M:%S %p").to_string())
                    .end();
                r.obj("assumedRoleUser")
                    .str("assumedRoleId", &format!("AROA{}:{}", rng.chars(UPPER_ALNUM, 17), rng.range(1_700_000_000, 1_716_000_000)))
                    .str("arn", &format!("arn:aws:sts::{acct}:assumed-role/{role}/x"))
                    .end()
                    .end();
                e.response = Some(r.take());
                e.resources = Some(format!("[{{\"accountId\":\"{acct}\",\"type\":\"AWS::IAM::Role\",\"ARN\":\"arn:aws:iam::{acct}:role/{role}\"}}]"));
                e
            }
            _ => {
                let mut e = ev("logs.amazonaws.com", "CreateLogStream", false);
                e.request = Some(format!(
                    "{{\"logGroupName\":\"/aws/lambda/{}\",\"logStreamName\":\"{}/[$LATEST]{}\"}}",
                    rng.pick(&s.functions),
                    t.format("%Y/%m/%d"),
                    rng.hex(32)
                ));
                e
            }
        };
    }
    // Weights by service: ec2, s3, iam (us-east-1), sts, kms, lambda, cloudtrail, logs, ssm, secretsmanager, dynamodb
    let weights: [u32; 11] = [26, 18, if s.is_global_region() { 12 } else { 0 }, 10, 8, 6, 3, 6, 5, 3, 3];
    match rng.weighted(&weights) {
        0 => {
            let mut e = match rng.below(10) {
                0..=4 => {
                    let mut e = ev("ec2.amazonaws.com", "DescribeInstances", true);
                    let mut j = Json::new();
                    j.begin().obj("instancesSet").arr("items");
                    for _ in 0..rng.range(1, 3) {
                        j.begin().str("instanceId", rng.pick(&s.instances).as_str()).end();
                    }
                    j.end_arr().end().obj("filterSet").end().end();
                    e.request = Some(j.take());
                    e
                }
                5 => {
                    let mut e = ev("ec2.amazonaws.com", "DescribeSecurityGroups", true);
                    e.request = Some("{\"securityGroupSet\":{},\"securityGroupIdSet\":{},\"filterSet\":{}}".into());
                    e
                }
                6 => {
                    let mut e = ev("ec2.amazonaws.com", "RunInstances", false);
                    let id = rng.pick(&s.instances).clone();
                    e.request = Some(format!(
                        "{{\"instancesSet\":{{\"items\":[{{\"imageId\":\"ami-0{}\",\"minCount\":1,\"maxCount\":1}}]}},\"instanceType\":\"t3.medium\",\"blockDeviceMapping\":{{}},\"monitoring\":{{\"enabled\":false}},\"disableApiTermination\":false,\"disableApiStop\":false,\"clientToken\":\"{}\",\"iamInstanceProfile\":{{\"arn\":\"arn:aws:iam::{acct}:instance-profile/app-profile\"}},\"tagSpecificationSet\":{{\"items\":[{{\"resourceType\":\"instance\",\"tags\":[{{\"key\":\"Name\",\"value\":\"worker\"}},{{\"key\":\"team\",\"value\":\"platform\"}}]}}]}}}}",
                        rng.hex(16),
                        rng.uuid()
                    ));
                    e.response = Some(format!(
                        "{{\"requestId\":\"{}\",\"reservationId\":\"r-0{}\",\"ownerId\":\"{acct}\",\"groupSet\":{{}},\"instancesSet\":{{\"items\":[{{\"instanceId\":\"{id}\",\"imageId\":\"ami-0{}\",\"currentInstanceBootMode\":\"uefi\",\"instanceState\":{{\"code\":0,\"name\":\"pending\"}},\"privateDnsName\":\"ip-10-0-{}-{}.ec2.internal\",\"amiLaunchIndex\":0,\"productCodes\":{{}},\"instanceType\":\"t3.medium\",\"launchTime\":{},\"placement\":{{\"availabilityZone\":\"{region}a\",\"tenancy\":\"default\"}},\"monitoring\":{{\"state\":\"disabled\"}},\"subnetId\":\"subnet-0{}\",\"vpcId\":\"vpc-0{}\",\"privateIpAddress\":\"10.0.{}.{}\",\"sourceDestCheck\":true,\"architecture\":\"x86_64\",\"rootDeviceType\":\"ebs\",\"rootDeviceName\":\"/dev/xvda\",\"virtualizationType\":\"hvm\",\"hypervisor\":\"xen\",\"ebsOptimized\":false,\"enaSupport\":true}}]}}}}",
                        rng.uuid(),
                        rng.hex(16),
                        rng.hex(16),
                        rng.below(256),
                        rng.below(256),
                        t.timestamp_millis(),
                        rng.hex(16),
                        rng.hex(16),
                        rng.below(256),
                        rng.below(256)
                    ));
                    e
                }
                7 => {
                    let mut e = ev("ec2.amazonaws.com", "CreateTags", false);
                    e.request = Some(format!(
                        "{{\"resourcesSet\":{{\"items\":[{{\"resourceId\":\"{}\"}}]}},\"tagSet\":{{\"items\":[{{\"key\":\"owner\",\"value\":\"{}\"}}]}}}}",
                        rng.pick(&s.instances),
                        rng.pick(USER_NAMES)
                    ));
                    e.response = Some(format!("{{\"requestId\":\"{}\",\"_return\":true}}", rng.uuid()));
                    e
                }
                8 => {
                    let mut e = ev("ec2.amazonaws.com", "DescribeVolumes", true);
                    e.request = Some("{\"volumeSet\":{},\"filterSet\":{\"items\":[{\"name\":\"attachment.status\",\"valueSet\":{\"items\":[{\"value\":\"attached\"}]}}]}}".into());
                    e
                }
                _ => {
                    let mut e = ev("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", false);
                    e.request = Some(format!(
                        "{{\"groupId\":\"sg-0{}\",\"ipPermissions\":{{\"items\":[{{\"ipProtocol\":\"tcp\",\"fromPort\":443,\"toPort\":443,\"groups\":{{}},\"ipRanges\":{{\"items\":[{{\"cidrIp\":\"10.0.0.0/16\",\"description\":\"vpc\"}}]}},\"ipv6Ranges\":{{}},\"prefixListIds\":{{}}}}]}}}}",
                        rng.hex(16)
                    ));
                    e
                }
            };
            e.errors = EC2_ERRORS;
            e
        }
        1 => {
            let bucket = rng.pick(&s.buckets).clone();
            let mut e = match rng.below(20) {
                0..=5 => ev("s3.amazonaws.com", "ListBuckets", true),
                6..=9 => ev("s3.amazonaws.com", "GetBucketAcl", true),
                10..=11 => ev("s3.amazonaws.com", "GetBucketPolicy", true),
                12..=13 => ev("s3.amazonaws.com", "GetBucketLocation", true),
                14 => ev("s3.amazonaws.com", "PutBucketPolicy", false),
                15 => ev("s3.amazonaws.com", "PutBucketLogging", false),
                16 => ev("s3.amazonaws.com", "PutBucketPublicAccessBlock", false),
                17 => ev("s3.amazonaws.com", "PutBucketAcl", false),
                18 => ev("s3.amazonaws.com", "GetBucketEncryption", true),
                _ => ev("s3.amazonaws.com", "CreateBucket", false),
            };
            let mut j = Json::new();
            j.begin();
            match e.name {
                "ListBuckets" => {
                    j.str("Host", &format!("s3.{region}.amazonaws.com"));
                }
                "PutBucketPolicy" => {
                    j.str("bucketName", &bucket);
                    // Benign look-alikes: a named account, or "*" limited by a condition.
                    match rng.below(3) {
                        0 => bucket_policy(&mut j, &bucket, &format!("{{\"AWS\":\"arn:aws:iam::{acct}:role/{}\"}}", rng.pick(ROLE_NAMES)), None),
                        1 => bucket_policy(
                            &mut j,
                            &bucket,
                            "\"*\"",
                            Some(&format!("{{\"StringEquals\":{{\"aws:SourceVpce\":\"vpce-0{}\"}}}}", rng.hex(16))),
                        ),
                        _ => bucket_policy(
                            &mut j,
                            &bucket,
                            "{\"AWS\":\"*\"}",
                            Some(&format!(
                                "{{\"StringEquals\":{{\"aws:PrincipalOrgID\":\"o-{}\"}}}}",
                                rng.chars(b"abcdefghijklmnopqrstuvwxyz0123456789", 10)
                            )),
                        ),
                    }
                    j.raw("policy", "[\"\"]");
                    s3_host(&mut j, &bucket, region);
                }
                "PutBucketLogging" => {
                    j.str("bucketName", &bucket);
                    j.obj("BucketLoggingStatus").str("xmlns", "http://s3.amazonaws.com/doc/2006-03-01/");
                    j.obj("LoggingEnabled").str("TargetBucket", &s.buckets[0]).str("TargetPrefix", &format!("{bucket}/")).end();
                    j.end().raw("logging", "[\"\"]");
                    s3_host(&mut j, &bucket, region);
                }
                "PutBucketPublicAccessBlock" => {
                    j.str("bucketName", &bucket);
                    j.obj("PublicAccessBlockConfiguration")
                        .str("xmlns", "http://s3.amazonaws.com/doc/2006-03-01/")
                        .bool("RestrictPublicBuckets", true)
                        .bool("BlockPublicPolicy", true)
                        .bool("BlockPublicAcls", true)
                        .bool("IgnorePublicAcls", true)
                        .end();
                    j.raw("publicAccessBlock", "[\"\"]");
                    s3_host(&mut j, &bucket, region);
                }
                "PutBucketAcl" => {
                    j.str("bucketName", &bucket);
                    acl(&mut j, acct, None);
                    j.raw("acl", "[\"\"]");
                    s3_host(&mut j, &bucket, region);
                }
                _ => {
                    j.str("bucketName", &bucket);
                    j.raw(e.name.trim_start_matches("Get").trim_start_matches("Create").to_ascii_lowercase().as_str(), "[\"\"]");
                    s3_host(&mut j, &bucket, region);
                }
            }
            j.end();
            e.request = Some(j.take());
            e.additional = Some(s3_additional(rng));
            if e.name != "ListBuckets" {
                e.resources = Some(format!("[{{\"accountId\":\"{acct}\",\"type\":\"AWS::S3::Bucket\",\"ARN\":\"arn:aws:s3:::{bucket}\"}}]"));
            }
            e.errors = S3_ERRORS;
            e
        }
        2 => {
            let user = rng.pick(USER_NAMES);
            let mut e = match rng.below(12) {
                0..=3 => {
                    let mut e = ev("iam.amazonaws.com", "GetUser", true);
                    e.request = Some(format!("{{\"userName\":\"{user}\"}}"));
                    e
                }
                4..=5 => ev("iam.amazonaws.com", "ListRoles", true),
                6 => {
                    let mut e = ev("iam.amazonaws.com", "PutRolePolicy", false);
                    let mut j = Json::new();
                    j.begin()
                        .str("roleName", *rng.pick(ROLE_NAMES))
                        .str("policyName", "inline-app-access")
                        .str("policyDocument", &iam_policy_document(rng, acct))
                        .end();
                    e.request = Some(j.take());
                    e
                }
                7 => {
                    let mut e = ev("iam.amazonaws.com", "CreateRole", false);
                    let name = format!("svc-role-{}", rng.hex(6));
                    let mut j = Json::new();
                    j.begin()
                        .str("roleName", &name)
                        .str("assumeRolePolicyDocument", &trust_policy("lambda.amazonaws.com"))
                        .str("description", "service role")
                        .end();
                    e.request = Some(j.take());
                    let mut r = Json::new();
                    r.begin()
                        .obj("role")
                        .str("path", "/")
                        .str("roleName", &name)
                        .str("roleId", &format!("AROA{}", rng.chars(UPPER_ALNUM, 17)))
                        .str("arn", &format!("arn:aws:iam::{acct}:role/{name}"))
                        .str("createDate", &t.format("%b %-d, %Y, %-I:%M:%S %p").to_string())
                        .str("assumeRolePolicyDocument", &percent_encode(&trust_policy("lambda.amazonaws.com")))
                        .end()
                        .end();
                    e.response = Some(r.take());
                    e
                }
                8 => {
                    let mut e = ev("iam.amazonaws.com", "AttachRolePolicy", false);
                    e.request =
                        Some(format!("{{\"roleName\":\"{}\",\"policyArn\":\"arn:aws:iam::aws:policy/ReadOnlyAccess\"}}", rng.pick(ROLE_NAMES)));
                    e
                }
                9 => {
                    let mut e = ev("iam.amazonaws.com", "UpdateAccountPasswordPolicy", false);
                    // A strengthening change: benign.
                    e.request = Some("{\"minimumPasswordLength\":16,\"requireSymbols\":true,\"requireNumbers\":true,\"requireUppercaseCharacters\":true,\"requireLowercaseCharacters\":true,\"allowUsersToChangePassword\":true,\"maxPasswordAge\":90,\"passwordReusePrevention\":24,\"hardExpiry\":false}".into());
                    e
                }
                10 => {
                    let mut e = ev("iam.amazonaws.com", "ListAttachedUserPolicies", true);
                    e.request = Some(format!("{{\"userName\":\"{user}\"}}"));
                    e
                }
                _ => {
                    let mut e = ev("iam.amazonaws.com", "GetAccountSummary", true);
                    e.event_type = "AwsApiCall";
                    e
                }
            };
            e.errors = IAM_ERRORS;
            e
        }
        3 => {
            if rng.chance(0.6) {
                ev("sts.amazonaws.com", "GetCallerIdentity", true)
            } else {
                let mut e = ev("sts.amazonaws.com", "AssumeRole", false);
                let role = rng.pick(ROLE_NAMES);
                e.request = Some(format!(
                    "{{\"roleArn\":\"arn:aws:iam::{acct}:role/{role}\",\"roleSessionName\":\"{}\",\"durationSeconds\":3600}}",
                    rng.pick(USER_NAMES)
                ));
                e.response = Some(format!(
                    "{{\"credentials\":{{\"accessKeyId\":\"ASIA{}\",\"sessionToken\":\"{}\",\"expiration\":\"{}\"}},\"assumedRoleUser\":{{\"assumedRoleId\":\"AROA{}:x\",\"arn\":\"arn:aws:sts::{acct}:assumed-role/{role}/x\"}}}}",
                    rng.chars(UPPER_ALNUM, 16),
                    rng.chars(ALNUM, 380),
                    t.format("%b %-d, %Y, %-I:%M:%S %p"),
                    rng.chars(UPPER_ALNUM, 17)
                ));
                e.resources = Some(format!("[{{\"accountId\":\"{acct}\",\"type\":\"AWS::IAM::Role\",\"ARN\":\"arn:aws:iam::{acct}:role/{role}\"}}]"));
                e
            }
        }
        4 => {
            let key = rng.pick(&s.keys);
            let name = *rng.pick(&["Decrypt", "Encrypt", "GenerateDataKey", "DescribeKey"]);
            let mut e = ev("kms.amazonaws.com", name, name != "Encrypt" && name != "GenerateDataKey");
            e.request = Some(format!("{{\"keyId\":\"arn:aws:kms:{region}:{acct}:key/{key}\",\"encryptionAlgorithm\":\"SYMMETRIC_DEFAULT\"}}"));
            e.resources =
                Some(format!("[{{\"accountId\":\"{acct}\",\"type\":\"AWS::KMS::Key\",\"ARN\":\"arn:aws:kms:{region}:{acct}:key/{key}\"}}]"));
            e.errors = KMS_ERRORS;
            e
        }
        5 => {
            let f = rng.pick(&s.functions);
            match rng.below(4) {
                0 | 1 => ev("lambda.amazonaws.com", "ListFunctions20150331", true),
                2 => {
                    let mut e = ev("lambda.amazonaws.com", "GetFunction20150331v2", true);
                    e.request = Some(format!("{{\"functionName\":\"{f}\"}}"));
                    e
                }
                _ => {
                    let mut e = ev("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", false);
                    e.request = Some(format!(
                        "{{\"functionName\":\"{f}\",\"publish\":false,\"dryRun\":false,\"s3Bucket\":\"{}\",\"s3Key\":\"builds/{f}/{}.zip\"}}",
                        s.buckets[1],
                        rng.hex(12)
                    ));
                    e.response = Some(format!(
                        "{{\"functionName\":\"{f}\",\"functionArn\":\"arn:aws:lambda:{region}:{acct}:function:{f}\",\"runtime\":\"python3.12\",\"role\":\"arn:aws:iam::{acct}:role/lambda-orders-processor-role\",\"handler\":\"app.handler\",\"codeSize\":{},\"timeout\":30,\"memorySize\":256,\"lastModified\":\"{}\",\"codeSha256\":\"{}=\",\"version\":\"$LATEST\",\"tracingConfig\":{{\"mode\":\"PassThrough\"}},\"revisionId\":\"{}\",\"state\":\"Active\",\"lastUpdateStatus\":\"InProgress\",\"packageType\":\"Zip\",\"architectures\":[\"x86_64\"],\"ephemeralStorage\":{{\"size\":512}}}}",
                        rng.range(1000, 9_000_000),
                        ts(t),
                        rng.chars(ALNUM, 43),
                        rng.uuid()
                    ));
                    e
                }
            }
        }
        6 => {
            let trail = format!("arn:aws:cloudtrail:{region}:{acct}:trail/management-events");
            let mut e = match rng.below(4) {
                0 => ev("cloudtrail.amazonaws.com", "DescribeTrails", true),
                1 => ev("cloudtrail.amazonaws.com", "GetTrailStatus", true),
                2 => ev("cloudtrail.amazonaws.com", "LookupEvents", true),
                _ => ev("cloudtrail.amazonaws.com", "StartLogging", false),
            };
            if e.name != "DescribeTrails" && e.name != "LookupEvents" {
                e.request = Some(format!("{{\"name\":\"{trail}\"}}"));
            }
            e
        }
        7 => {
            let mut e = ev("logs.amazonaws.com", *rng.pick(&["DescribeLogGroups", "FilterLogEvents", "CreateLogGroup"]), true);
            if e.name == "CreateLogGroup" {
                e.read_only = false;
                e.request = Some(format!("{{\"logGroupName\":\"/app/{}\"}}", rng.hex(8)));
            } else if e.name == "FilterLogEvents" {
                e.request = Some(format!(
                    "{{\"logGroupName\":\"/aws/lambda/{}\",\"startTime\":{},\"filterPattern\":\"ERROR\"}}",
                    rng.pick(&s.functions),
                    t.timestamp_millis() - 3_600_000
                ));
            }
            e
        }
        8 => {
            let mut e = ev("ssm.amazonaws.com", *rng.pick(&["GetParameter", "GetParameters", "DescribeInstanceInformation"]), true);
            if e.name != "DescribeInstanceInformation" {
                e.request = Some(format!("{{\"name\":\"/app/prod/{}\",\"withDecryption\":true}}", rng.pick(&["db-url", "api-key", "feature-flags"])));
            }
            e
        }
        9 => {
            let mut e = ev("secretsmanager.amazonaws.com", "GetSecretValue", true);
            e.request = Some(format!("{{\"secretId\":\"arn:aws:secretsmanager:{region}:{acct}:secret:prod/db-{}\"}}", rng.chars(ALNUM, 6)));
            e
        }
        _ => {
            let mut e = ev("dynamodb.amazonaws.com", *rng.pick(&["DescribeTable", "ListTables", "UpdateTimeToLive"]), true);
            if e.name != "ListTables" {
                e.request = Some(format!("{{\"tableName\":\"orders-{}\"}}", rng.below(5)));
            }
            if e.name == "UpdateTimeToLive" {
                e.read_only = false;
            }
            e
        }
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// PutBucketAcl's AccessControlPolicy as CloudTrail records it; `grant_group` adds a grant to
/// an S3 predefined group (AllUsers / AuthenticatedUsers).
fn acl(j: &mut Json, acct: &str, grant_group: Option<&str>) {
    j.obj("AccessControlPolicy").obj("AccessControlList").arr("Grant");
    j.begin()
        .obj("Grantee")
        .str("xsi:type", "CanonicalUser")
        .str("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
        .str("ID", &format!("{:0>64}", acct))
        .end()
        .str("Permission", "FULL_CONTROL")
        .end();
    if let Some(group) = grant_group {
        j.begin()
            .obj("Grantee")
            .str("xsi:type", "Group")
            .str("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
            .str("URI", &format!("http://acs.amazonaws.com/groups/global/{group}"))
            .end()
            .str("Permission", "READ")
            .end();
    }
    j.end_arr().end().str("xmlns", "http://s3.amazonaws.com/doc/2006-03-01/").obj("Owner").str("ID", &format!("{:0>64}", acct)).end().end();
}

/// A record meant to raise `expect`; None when this stream cannot carry it (IAM is global).
fn finding_event(rng: &mut Rng, s: &Stream, expect: Expect, t: DateTime<Utc>) -> Option<Event> {
    let acct = s.account;
    let region = s.region;
    let bucket = rng.pick(&s.buckets).clone();
    let s3 = |name: &'static str, request: String, rng: &mut Rng| {
        let mut e = ev("s3.amazonaws.com", name, false);
        e.request = Some(request);
        e.additional = Some(s3_additional(rng));
        e.resources = Some(format!("[{{\"accountId\":\"{acct}\",\"type\":\"AWS::S3::Bucket\",\"ARN\":\"arn:aws:s3:::{bucket}\"}}]"));
        e.errors = S3_ERRORS;
        e
    };
    Some(match expect {
        Expect::CloudTrailLoggingDisabled => {
            let mut e = ev("cloudtrail.amazonaws.com", if rng.chance(0.8) { "StopLogging" } else { "DeleteTrail" }, false);
            e.request = Some(format!("{{\"name\":\"arn:aws:cloudtrail:{region}:{acct}:trail/management-events\"}}"));
            e.errors = DENIED;
            e
        }
        Expect::BucketAnonymousAccessGranted | Expect::BucketPublicAccessGranted => {
            let mut j = Json::new();
            j.begin().str("bucketName", &bucket);
            let name = if expect == Expect::BucketAnonymousAccessGranted && rng.chance(0.6) {
                bucket_policy(&mut j, &bucket, if rng.chance(0.5) { "\"*\"" } else { "{\"AWS\":\"*\"}" }, None);
                j.raw("policy", "[\"\"]");
                "PutBucketPolicy"
            } else {
                acl(&mut j, acct, Some(if expect == Expect::BucketAnonymousAccessGranted { "AllUsers" } else { "AuthenticatedUsers" }));
                j.raw("acl", "[\"\"]");
                "PutBucketAcl"
            };
            s3_host(&mut j, &bucket, region);
            j.end();
            s3(name, j.take(), rng)
        }
        Expect::ServerAccessLoggingDisabled => {
            let mut j = Json::new();
            j.begin()
                .str("bucketName", &bucket)
                .obj("BucketLoggingStatus")
                .str("xmlns", "http://s3.amazonaws.com/doc/2006-03-01/")
                .end()
                .raw("logging", "[\"\"]");
            s3_host(&mut j, &bucket, region);
            j.end();
            s3("PutBucketLogging", j.take(), rng)
        }
        Expect::BucketBlockPublicAccessDisabled => {
            if rng.chance(0.3) {
                let mut j = Json::new();
                j.begin().str("bucketName", &bucket).raw("publicAccessBlock", "[\"\"]");
                s3_host(&mut j, &bucket, region);
                j.end();
                s3("DeleteBucketPublicAccessBlock", j.take(), rng)
            } else {
                let mut j = Json::new();
                j.begin().str("bucketName", &bucket);
                j.obj("PublicAccessBlockConfiguration")
                    .str("xmlns", "http://s3.amazonaws.com/doc/2006-03-01/")
                    .bool("RestrictPublicBuckets", false)
                    .bool("BlockPublicPolicy", false)
                    .bool("BlockPublicAcls", false)
                    .bool("IgnorePublicAcls", false)
                    .end();
                j.raw("publicAccessBlock", "[\"\"]");
                s3_host(&mut j, &bucket, region);
                j.end();
                s3("PutBucketPublicAccessBlock", j.take(), rng)
            }
        }
        Expect::PasswordPolicyChange => {
            if !s.is_global_region() {
                return None;
            }
            if rng.chance(0.3) {
                let mut e = ev("iam.amazonaws.com", "DeleteAccountPasswordPolicy", false);
                e.errors = IAM_ERRORS;
                e
            } else {
                let mut e = ev("iam.amazonaws.com", "UpdateAccountPasswordPolicy", false);
                e.request = Some(format!(
                    "{{\"minimumPasswordLength\":{},\"requireSymbols\":false,\"requireNumbers\":false,\"requireUppercaseCharacters\":false,\"requireLowercaseCharacters\":true,\"allowUsersToChangePassword\":true,\"hardExpiry\":false}}",
                    rng.range(6, 8)
                ));
                e.errors = IAM_ERRORS;
                e
            }
        }
        // These ride on an ordinary call: the identity or the user agent makes them findings.
        Expect::RootCredentialUsage | Expect::PenTestKali | Expect::PenTestParrot | Expect::PenTestPentoo => {
            if expect == Expect::RootCredentialUsage && s.is_global_region() && rng.chance(0.15) {
                let mut e = ev("signin.amazonaws.com", "ConsoleLogin", false);
                e.event_type = "AwsConsoleSignIn";
                e.response = Some("{\"ConsoleLogin\":\"Success\"}".into());
                e.additional = Some("{\"LoginTo\":\"https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true\",\"MobileVersion\":\"No\",\"MFAUsed\":\"Yes\"}".into());
                e.errors = &[];
                e
            } else {
                benign_event(rng, s, Kind::IamUser, t)
            }
        }
    })
}

#[derive(Default)]
struct FileStats {
    records: u64,
    uncompressed: u64,
    compressed: u64,
    failures: u64,
    expected: std::collections::BTreeMap<Expect, u64>,
    /// Of those, failed calls (errorCode): attempts, which only some types count.
    expected_failed: std::collections::BTreeMap<Expect, u64>,
    by_identity: std::collections::BTreeMap<&'static str, u64>,
}

fn write_record(rng: &mut Rng, s: &Stream, t: DateTime<Utc>, j: &mut Json, stats: &mut FileStats) {
    // ~2.3% of records should raise a finding.
    let expect = match rng.below(10_000) {
        0..=49 => Some(Expect::RootCredentialUsage),
        50..=64 => Some(Expect::CloudTrailLoggingDisabled),
        65..=104 => Some(Expect::PenTestKali),
        105..=114 => Some(Expect::PenTestParrot),
        115..=119 => Some(Expect::PenTestPentoo),
        120..=144 => Some(Expect::BucketAnonymousAccessGranted),
        145..=154 => Some(Expect::BucketPublicAccessGranted),
        155..=179 => Some(Expect::ServerAccessLoggingDisabled),
        180..=199 => Some(Expect::BucketBlockPublicAccessDisabled),
        200..=229 => Some(Expect::PasswordPolicyChange),
        _ => None,
    };
    let finding = expect.and_then(|x| finding_event(rng, s, x, t).map(|e| (x, e)));
    let (caller, event, expect) = match finding {
        Some((x, e)) => {
            let caller = match x {
                Expect::RootCredentialUsage => s.principal(rng, Kind::Root),
                _ => {
                    let kind = if rng.chance(0.7) { Kind::IamUser } else { Kind::AssumedRole };
                    s.principal(rng, kind)
                }
            };
            (caller, e, Some(x))
        }
        None => {
            let kind = [Kind::AssumedRole, Kind::IamUser, Kind::AwsService, Kind::FederatedUser, Kind::AwsAccount][rng.weighted(&[55, 22, 17, 3, 3])];
            let caller = s.principal(rng, kind);
            let e = benign_event(rng, s, kind, t);
            (caller, e, None)
        }
    };
    let user_agent = match expect {
        Some(Expect::PenTestKali) => KALI_AGENT,
        Some(Expect::PenTestParrot) => PARROT_AGENT,
        Some(Expect::PenTestPentoo) => PENTOO_AGENT,
        _ if caller.kind == Kind::AwsService => caller.name.as_str(),
        _ if event.source == "signin.amazonaws.com" => BENIGN_AGENTS[6],
        _ => caller.user_agent,
    };
    // Failures: ~6% of ordinary calls, 20% of finding-raising ones (attempts matter: errorCode).
    let failure_rate = if expect.is_some() { 0.2 } else { 0.06 };
    let error = (!event.errors.is_empty() && rng.chance(failure_rate)).then(|| *rng.pick(event.errors));
    stats.records += 1;
    if error.is_some() {
        stats.failures += 1;
    }
    if let Some(x) = expect {
        *stats.expected.entry(x).or_default() += 1;
        if error.is_some() {
            *stats.expected_failed.entry(x).or_default() += 1;
        }
    }
    *stats
        .by_identity
        .entry(match caller.kind {
            Kind::IamUser => "IAMUser",
            Kind::AssumedRole => "AssumedRole",
            Kind::AwsService => "AWSService",
            Kind::FederatedUser => "FederatedUser",
            Kind::AwsAccount => "AWSAccount",
            Kind::Root => "Root",
        })
        .or_default() += 1;

    let region = if event.source == "signin.amazonaws.com" { "us-east-1" } else { s.region };
    let service_event = caller.kind == Kind::AwsService && event.source == "logs.amazonaws.com";
    j.begin();
    j.str("eventVersion", if event.source == "signin.amazonaws.com" { "1.08" } else { "1.09" });
    user_identity(j, caller, s.account, t, None);
    j.str("eventTime", &ts(t)).str("eventSource", event.source).str("eventName", event.name).str("awsRegion", region);
    let ip_literal;
    let source_ip = if caller.kind == Kind::AwsService {
        caller.source_ip.as_str()
    } else if expect.is_some() && matches!(expect, Some(Expect::PenTestKali | Expect::PenTestParrot | Expect::PenTestPentoo)) {
        ip_literal = format!("185.220.{}.{}", rng.below(256), rng.range(1, 254));
        ip_literal.as_str()
    } else if rng.chance(0.03) {
        "AWS Internal"
    } else {
        caller.source_ip.as_str()
    };
    j.str("sourceIPAddress", source_ip).str("userAgent", user_agent);
    if let Some((code, message)) = error {
        j.str("errorCode", code).str("errorMessage", message);
    }
    match &event.request {
        Some(r) => j.raw("requestParameters", r),
        None => j.null("requestParameters"),
    };
    match (&event.response, error) {
        (Some(r), None) => j.raw("responseElements", r),
        _ => j.null("responseElements"),
    };
    if let Some(a) = &event.additional {
        j.raw("additionalEventData", a);
    }
    j.str("requestID", &if event.source == "s3.amazonaws.com" { rng.chars(UPPER_ALNUM, 16) } else { rng.uuid() });
    j.str("eventID", &rng.uuid());
    j.bool("readOnly", event.read_only);
    if let Some(r) = &event.resources {
        j.raw("resources", r);
    }
    j.str("eventType", if service_event { "AwsServiceEvent" } else { event.event_type });
    j.bool("managementEvent", true);
    j.str("recipientAccountId", s.account);
    if caller.kind == Kind::AwsService && event.source == "sts.amazonaws.com" {
        j.str("sharedEventID", &rng.uuid());
    }
    j.str("eventCategory", "Management");
    if caller.kind != Kind::AwsService && event.source != "signin.amazonaws.com" {
        j.obj("tlsDetails")
            .str("tlsVersion", "TLSv1.3")
            .str("cipherSuite", "TLS_AES_128_GCM_SHA256")
            .str("clientProvidedHostHeader", &format!("{}.{}.amazonaws.com", event.source.trim_end_matches(".amazonaws.com"), region))
            .end();
    }
    if user_agent == BENIGN_AGENTS[6] && event.source != "signin.amazonaws.com" {
        j.str("sessionCredentialFromConsole", "true");
    }
    j.end();
}

/// Writes object `index` and returns its stats.
fn write_file(args: &Args, streams: &[Stream], index: usize) -> std::io::Result<FileStats> {
    let stream = &streams[index % streams.len()];
    let window = index / streams.len();
    let per_day = args.windows / 2;
    let day = (window / per_day) as i64;
    let (y, m, d) = DAY1;
    let window_start =
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap() + Duration::days(day) + Duration::minutes(5 * (window % per_day) as i64) + Duration::hours(9);
    let delivered = window_start + Duration::minutes(5);
    let mut rng = Rng::new(args.seed.wrapping_mul(0x100_0000_01b3) ^ index as u64);
    let dir = args.out.join(format!("AWSLogs/{}/CloudTrail/{}/{}", stream.account, stream.region, window_start.format("%Y/%m/%d")));
    std::fs::create_dir_all(&dir)?;
    let name = format!("{}_CloudTrail_{}_{}_{}.json.gz", stream.account, stream.region, delivered.format("%Y%m%dT%H%MZ"), rng.chars(ALNUM, 16));
    let mut stats = FileStats::default();
    let mut gz = GzEncoder::new(Vec::with_capacity(args.object_bytes + 65536), Compression::default());
    gz.write_all(b"{\"Records\":[")?;
    stats.uncompressed += 12;
    let mut j = Json::new();
    let mut t_ms = window_start.timestamp_millis();
    let mut first = true;
    while gz.get_ref().len() < args.object_bytes {
        if !first {
            gz.write_all(b",")?;
            stats.uncompressed += 1;
        }
        first = false;
        t_ms += rng.range(0, 80) as i64;
        let t = DateTime::from_timestamp_millis(t_ms).unwrap();
        write_record(&mut rng, stream, t, &mut j, &mut stats);
        let rec = j.take();
        stats.uncompressed += rec.len() as u64;
        gz.write_all(rec.as_bytes())?;
    }
    gz.write_all(b"]}")?;
    stats.uncompressed += 2;
    let bytes = gz.finish()?;
    stats.compressed = bytes.len() as u64;
    std::fs::write(dir.join(name), bytes)?;
    Ok(stats)
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    assert!(args.windows >= 2 && args.windows % 2 == 0, "--windows must be even (two days)");
    let streams: Vec<Stream> = ACCOUNTS.iter().flat_map(|a| REGIONS.iter().map(move |r| (a, r))).map(|(a, r)| Stream::new(args.seed, a, r)).collect();
    if args.out.join("AWSLogs").exists() {
        std::fs::remove_dir_all(args.out.join("AWSLogs"))?;
    }
    let files = streams.len() * args.windows;
    let next = AtomicUsize::new(0);
    let total = Mutex::new(FileStats::default());
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..args.threads.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= files {
                        break;
                    }
                    let s = write_file(&args, &streams, i).expect("write object");
                    let mut t = total.lock().unwrap();
                    t.records += s.records;
                    t.uncompressed += s.uncompressed;
                    t.compressed += s.compressed;
                    t.failures += s.failures;
                    for (k, v) in s.expected {
                        *t.expected.entry(k).or_default() += v;
                    }
                    for (k, v) in s.expected_failed {
                        *t.expected_failed.entry(k).or_default() += v;
                    }
                    for (k, v) in s.by_identity {
                        *t.by_identity.entry(k).or_default() += v;
                    }
                }
            });
        }
    });
    let t = total.into_inner().unwrap();
    let expected_total: u64 = t.expected.values().sum();
    let manifest = serde_json::json!({
        "seed": args.seed,
        "files": files,
        "objectBytesTarget": args.object_bytes,
        "objectBytesMeaning": "compressed (gzip) size at which an object is closed",
        "records": t.records,
        "uncompressedBytes": t.uncompressed,
        "compressedBytes": t.compressed,
        "failedCalls": t.failures,
        "recordsExpectedToRaise": expected_total,
        "expectedByType": t.expected.iter().map(|(k, v)| (k.finding_type().to_string(), *v)).collect::<std::collections::BTreeMap<_, _>>(),
        "expectedFailedByType": t.expected_failed.iter().map(|(k, v)| (k.finding_type().to_string(), *v)).collect::<std::collections::BTreeMap<_, _>>(),
        "recordsByIdentityType": t.by_identity,
        "accounts": ACCOUNTS,
        "regions": REGIONS,
        "day1": format!("{:04}/{:02}/{:02}", DAY1.0, DAY1.1, DAY1.2),
    });
    std::fs::write(args.out.join("manifest.json"), serde_json::to_string_pretty(&manifest).unwrap())?;
    eprintln!(
        "{} files, {} records, {:.1} MB uncompressed, {:.1} MB compressed, {:.2}% expected to raise, {:.1}% failed calls, in {:.1}s",
        files,
        t.records,
        t.uncompressed as f64 / 1e6,
        t.compressed as f64 / 1e6,
        100.0 * expected_total as f64 / t.records as f64,
        100.0 * t.failures as f64 / t.records as f64,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
