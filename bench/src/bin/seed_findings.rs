//! Fills a data directory with N realistic findings for the API benchmark, through the store API
//! (`Store::apply` in large batches), for the detector of 123456789012/us-east-1 — the account
//! `vedette serve --auth any` maps requests to.
//!
//! Findings vary the way a real detector's do: every active type of the catalogue (with its
//! resource and action kind), severities around the type's default, 300 user names with a skewed
//! distribution, updatedAt over the last 90 days (recent days busier), ~15% archived, some with
//! feedback, errorCode on a fifth of the API-call findings. Writes `params.json` beside the data
//! dir for the load client: detector id, a sample of ids, the query values used.
use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use serde_json::json;
use vedette_bench::Rng;
use vedette_domain::finding_types::{self, ActionKind, FindingType, ResourceKind};
use vedette_domain::{DetectorConfig, Evidence, Occurrence, Scope, model};
use vedette_store::{SqliteStore, Store};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    data_dir: PathBuf,
    /// Where to write the load client's parameters.
    #[arg(long)]
    params: PathBuf,
    #[arg(long, default_value_t = 1_000_000)]
    count: usize,
    #[arg(long, default_value_t = 20_000)]
    batch: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// "Now" for the generated timeline, epoch ms (default: the current time).
    #[arg(long)]
    now_ms: Option<i64>,
}

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";
const DAY_MS: i64 = 86_400_000;

const APIS: &[(&str, &str)] = &[
    ("ListBuckets", "s3.amazonaws.com"),
    ("DescribeInstances", "ec2.amazonaws.com"),
    ("GetCallerIdentity", "sts.amazonaws.com"),
    ("ListUsers", "iam.amazonaws.com"),
    ("CreateAccessKey", "iam.amazonaws.com"),
    ("StopLogging", "cloudtrail.amazonaws.com"),
    ("PutBucketPolicy", "s3.amazonaws.com"),
    ("GetSecretValue", "secretsmanager.amazonaws.com"),
    ("RunInstances", "ec2.amazonaws.com"),
    ("ConsoleLogin", "signin.amazonaws.com"),
];
const ERRORS: &[&str] = &["AccessDenied", "Client.UnauthorizedOperation", "AccessDeniedException", "NoSuchBucket"];
const COUNTRIES: &[(&str, &str, &str, f64, f64)] = &[
    ("United States", "US", "Ashburn", 39.04, -77.49),
    ("Germany", "DE", "Frankfurt am Main", 50.11, 8.68),
    ("Netherlands", "NL", "Amsterdam", 52.37, 4.90),
    ("Russia", "RU", "Moscow", 55.75, 37.62),
    ("China", "CN", "Beijing", 39.90, 116.40),
    ("Brazil", "BR", "Sao Paulo", -23.55, -46.63),
    ("Singapore", "SG", "Singapore", 1.29, 103.85),
];
const ORGS: &[(&str, &str)] = &[
    ("14618", "AMAZON-AES"),
    ("16509", "AMAZON-02"),
    ("24940", "Hetzner Online GmbH"),
    ("14061", "DIGITALOCEAN-ASN"),
    ("4134", "Chinanet"),
    ("9009", "M247 Europe SRL"),
];

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn remote_ip(rng: &mut Rng) -> serde_json::Value {
    let (country, code, city, lat, lon) = *rng.pick(COUNTRIES);
    let (asn, org) = *rng.pick(ORGS);
    json!({
        "ipAddressV4": format!("{}.{}.{}.{}", rng.range(1, 223), rng.below(256), rng.below(256), rng.range(1, 254)),
        "organization": {"asn": asn, "asnOrg": org, "isp": org, "org": org},
        "country": {"countryName": country, "countryCode": code},
        "city": {"cityName": city},
        "geoLocation": {"lat": lat, "lon": lon},
    })
}

fn user_name(rng: &mut Rng) -> String {
    // Skewed: a few service users own most findings, as in real accounts.
    let i = (rng.below(300) * rng.below(300)) / 300;
    match i % 4 {
        0 => format!("svc-deploy-{i}"),
        1 => format!("user{i}@example.com"),
        2 => format!("ci-runner-{i}"),
        _ => format!("admin-{i}"),
    }
}

fn finding(rng: &mut Rng, ty: &FindingType, detector_id: &str, now_ms: i64) -> model::Finding {
    let id = rng.hex(32);
    // Updated within the last 90 days, recent days busier (squared uniform).
    let age = {
        let u = rng.below(1_000_000) as i64;
        90 * DAY_MS * u / 1_000_000 * u / 1_000_000
    };
    let updated = now_ms - age - rng.below(DAY_MS as u64) as i64 / 24;
    let first_seen = updated - rng.below(20 * DAY_MS as u64) as i64;
    let last_seen = updated - rng.below(3_600_000) as i64;
    let created = first_seen + rng.below(600_000) as i64;
    let severity = if rng.chance(0.2) {
        // Some findings sit elsewhere in their band (variable-severity types, later scoring).
        let band = (ty.severity / 3.0).floor() * 3.0 + 1.0;
        band + rng.below(30) as f64 / 10.0
    } else {
        ty.severity
    };
    let user = user_name(rng);
    let resource = match ty.resource {
        ResourceKind::Instance => {
            let instance = format!("i-0{}", rng.hex(16));
            json!({
                "resourceType": "Instance",
                "instanceDetails": {
                    "instanceId": instance,
                    "instanceType": rng.pick(&["t3.medium", "m5.large", "c6i.xlarge", "r6g.2xlarge"]),
                    "imageId": format!("ami-0{}", rng.hex(16)),
                    "imageDescription": "Amazon Linux 2023 AMI",
                    "instanceState": "running",
                    "availabilityZone": format!("{REGION}{}", rng.pick(&["a", "b", "c"])),
                    "launchTime": iso(first_seen - rng.below(90 * DAY_MS as u64) as i64),
                    "iamInstanceProfile": {"arn": format!("arn:aws:iam::{ACCOUNT}:instance-profile/app-{}", rng.below(20)), "id": format!("AIPA{}", rng.hex(16).to_uppercase())},
                    "networkInterfaces": [{
                        "networkInterfaceId": format!("eni-0{}", rng.hex(16)),
                        "privateDnsName": format!("ip-10-0-{}-{}.ec2.internal", rng.below(256), rng.below(256)),
                        "privateIpAddress": format!("10.0.{}.{}", rng.below(256), rng.below(256)),
                        "publicIp": format!("54.{}.{}.{}", rng.below(256), rng.below(256), rng.range(1, 254)),
                        "subnetId": format!("subnet-0{}", rng.hex(16)),
                        "vpcId": format!("vpc-0{}", rng.hex(8)),
                        "securityGroups": [{"groupId": format!("sg-0{}", rng.hex(16)), "groupName": "web"}],
                    }],
                    "tags": [{"key": "team", "value": *rng.pick(&["payments", "platform", "data", "web"])}, {"key": "Name", "value": format!("worker-{}", rng.below(500))}],
                }
            })
        }
        ResourceKind::AccessKey | ResourceKind::S3Bucket => {
            let mut r = json!({
                "resourceType": "AccessKey",
                "accessKeyDetails": {
                    "accessKeyId": format!("ASIA{}", rng.hex(16).to_uppercase()),
                    "principalId": format!("AROA{}:{user}", rng.hex(17).to_uppercase()),
                    "userName": user,
                    "userType": *rng.pick(&["IAMUser", "AssumedRole", "AssumedRole", "Root", "FederatedUser"]),
                }
            });
            if ty.concerns_bucket() {
                let bucket = format!("bucket-{}-{}", rng.pick(&["logs", "data", "assets", "backup"]), rng.below(2000));
                r["s3BucketDetails"] = json!([{
                    "arn": format!("arn:aws:s3:::{bucket}"), "name": bucket, "type": "Destination",
                    "createdAt": (first_seen / 1000) as f64, "owner": {"id": rng.hex(64)},
                    "defaultServerSideEncryption": {"encryptionType": "AES256"},
                    "publicAccess": {"effectivePermission": if rng.chance(0.5) { "PUBLIC" } else { "NOT_PUBLIC" }},
                    "tags": [],
                }]);
            }
            r
        }
    };
    let action = match ty.action {
        ActionKind::AwsApiCall => {
            let (api, service) = *rng.pick(APIS);
            let mut a = json!({
                "api": api, "serviceName": service, "callerType": "Remote IP",
                "remoteIpDetails": remote_ip(rng),
                "userAgent": *rng.pick(&["aws-cli/2.15.30 Python/3.11.8 Linux/5.10 exe/x86_64", "Boto3/1.34.69 Python/3.12.2 Linux/6.1 Botocore/1.34.69", "aws-cli/2.9.19 Python/3.11.2 Linux/6.5.0-kali3-amd64"]),
                "affectedResources": {},
            });
            if rng.chance(0.2) {
                a["errorCode"] = json!(*rng.pick(ERRORS));
            }
            json!({"actionType": "AWS_API_CALL", "awsApiCallAction": a})
        }
        ActionKind::NetworkConnection => json!({"actionType": "NETWORK_CONNECTION", "networkConnectionAction": {
            "connectionDirection": if ty.role == finding_types::ResourceRole::Actor { "OUTBOUND" } else { "INBOUND" },
            "protocol": "TCP", "blocked": false,
            "remoteIpDetails": remote_ip(rng),
            "remotePortDetails": {"port": *rng.pick(&[22, 443, 3389, 6667, 4444]), "portName": "Unknown"},
            "localPortDetails": {"port": *rng.pick(&[22, 80, 443, 3389]), "portName": "SSH"},
            "localIpDetails": {"ipAddressV4": format!("10.0.{}.{}", rng.below(256), rng.below(256))},
        }}),
        ActionKind::PortProbe => json!({"actionType": "PORT_PROBE", "portProbeAction": {
            "blocked": false,
            "portProbeDetails": [{"localPortDetails": {"port": 22, "portName": "SSH"}, "remoteIpDetails": remote_ip(rng)}],
        }}),
        ActionKind::DnsRequest => json!({"actionType": "DNS_REQUEST", "dnsRequestAction": {
            "domain": format!("{}.{}", rng.hex(10), rng.pick(&["xmr-pool.example", "c2.example.net", "badsite.example.org"])),
            "protocol": "UDP", "blocked": false,
        }}),
    };
    let mut service = json!({
        "serviceName": "guardduty",
        "detectorId": detector_id,
        "action": action,
        "resourceRole": ty.role.as_str(),
        "eventFirstSeen": iso(first_seen),
        "eventLastSeen": iso(last_seen),
        "archived": rng.chance(0.15),
        "count": 1 + (rng.below(64) * rng.below(64) / 64) as i64,
        "additionalInfo": {"value": "{}", "type": "default"},
    });
    if rng.chance(0.05) {
        service["userFeedback"] = json!(if rng.chance(0.7) { "USEFUL" } else { "NOT_USEFUL" });
    }
    let doc = json!({
        "schemaVersion": "2.0",
        "accountId": ACCOUNT,
        "region": REGION,
        "partition": "aws",
        "id": id,
        "arn": Scope::new(ACCOUNT, REGION).finding_arn(detector_id, &id),
        "type": ty.name,
        "title": ty.title,
        "description": ty.description,
        "severity": severity,
        "createdAt": iso(created),
        "updatedAt": iso(updated),
        "resource": resource,
        "service": service,
    });
    serde_json::from_value(doc).expect("generated finding matches the model")
}

fn main() {
    let args = Args::parse();
    let now_ms = args.now_ms.unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
    let store = SqliteStore::open(&args.data_dir).expect("open store");
    let scope = Scope::new(ACCOUNT, REGION);
    let detector = match store.detector_for(&scope).expect("detector lookup") {
        Some(d) => d,
        None => store.create_detector(&scope, DetectorConfig::default(), Default::default(), None).expect("create detector"),
    };
    let types: Vec<&FindingType> = finding_types::active().collect();
    let mut rng = Rng::new(args.seed);
    let mut id_sample = Vec::new();
    let started = Instant::now();
    let mut done = 0;
    while done < args.count {
        let n = args.batch.min(args.count - done);
        let occurrences: Vec<Occurrence> = (0..n)
            .map(|_| {
                let ty = *rng.pick(&types);
                let f = finding(&mut rng, ty, &detector.id, now_ms);
                if rng.chance(0.02) && id_sample.len() < 20_000 {
                    id_sample.push(f.id.clone().unwrap());
                }
                let at = vedette_domain::time::parse_iso_ms(f.service.as_ref().unwrap().event_last_seen.as_deref().unwrap()).unwrap();
                Occurrence { detector_id: detector.id.clone(), finding: f, event_time_ms: at, evidence: Evidence::default() }
            })
            .collect();
        store.commit(&vedette_store::Commit::occurrences(&occurrences)).expect("apply batch");
        done += n;
        if done % 100_000 == 0 || done == args.count {
            eprintln!("{done} findings stored ({:.0}/s)", done as f64 / started.elapsed().as_secs_f64());
        }
    }
    // A type with a typical share (~1/N of findings) for the `type equals` query.
    let type_query = types.iter().find(|t| t.name == "Recon:IAMUser/MaliciousIPCaller").unwrap_or(&types[0]).name;
    let params = json!({
        "detectorId": detector.id,
        "accountId": ACCOUNT,
        "region": REGION,
        "count": args.count,
        "nowMs": now_ms,
        "typeQuery": type_query,
        "weekAgoMs": now_ms - 7 * DAY_MS,
        "findingIds": id_sample,
        "seedSeconds": started.elapsed().as_secs_f64(),
    });
    std::fs::write(&args.params, serde_json::to_string(&params).unwrap()).expect("write params");
    eprintln!("seeded {} findings in {:.1}s; params in {}", args.count, started.elapsed().as_secs_f64(), args.params.display());
}
