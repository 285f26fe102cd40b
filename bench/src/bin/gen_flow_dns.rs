//! Generates a deterministic corpus of VPC flow logs and Route 53 Resolver query logs laid out as
//! AWS delivers them to S3:
//!
//! * flow logs: `AWSLogs/<acct>/vpcflowlogs/<region>/YYYY/MM/DD/<acct>_vpcflowlogs_<region>_<fl-id>_<YYYYMMDDTHHmmZ>_<hash8>.log.gz`,
//!   one gzipped text file per flow log and 5-minute window, starting with its header line: the
//!   default v2 format in us-east-1, a custom format with every v5 field in eu-west-1 (its
//!   `region` field routes the records; v2 records need `--flow-region us-east-1`);
//! * query logs: `AWSLogs/<acct>/vpcdnsquerylogs/<vpc-id>/YYYY/MM/DD/<vpc-id>_vpcdnsquerylogs_<acct>_<YYYYMMDDTHHmmZ>_<hash8>.log.gz`,
//!   one JSON object per line with the fields and key order of AWS's example.
//!
//! Traffic: web servers answering internet clients, app servers talking to databases, updates
//! and AWS API calls, DNS to the VPC resolver, rejected internet background noise, an admin's SSH
//! sessions to the bastion, an office's hours-long SSH and RDP sessions from one NAT address
//! logged every minute, a few NODATA rows; queries for AWS endpoints, update mirrors, CDN
//! hosts (including hash-like CloudFront names), PTR lookups and private-zone names. A small
//! share is attack traffic, each episode written into the manifest with the finding type and
//! instance it should raise: SSH / RDP brute force (inbound, and SSH outbound), an outbound port
//! scan and port sweep, a UDP flood to port 53, beacons to C2 and mining-pool IPs, probes from
//! scanner IPs (these three need the IP feeds written to `feeds/`, passed with `--feed`), DGA
//! names, DNS tunnelling, C2 / mining / phishing domains (`--domain-feed`) and a DNS rebind to
//! the instance metadata address.
//!
//! Every file depends only on (seed, its index), so generation runs in parallel and the output is
//! byte-identical between runs and machines (own xoshiro RNG, no `rand`).
#![allow(clippy::explicit_auto_deref)]

use std::collections::BTreeMap;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use clap::Parser;
use flate2::Compression;
use flate2::write::GzEncoder;
use vedette_bench::{Json, Rng};

#[derive(Parser)]
struct Args {
    /// Output directory (AWSLogs/, feeds/ and manifest.json are written under it).
    #[arg(long, default_value = "bench/data/flowdns")]
    out: PathBuf,
    #[arg(long, default_value_t = 20251125)]
    seed: u64,
    /// 5-minute delivery windows per flow log / query-log configuration (96 = 8 hours).
    #[arg(long, default_value_t = 96)]
    windows: usize,
    /// Benign flow records per us-east-1 file (eu-west-1 files get 60% of it).
    #[arg(long, default_value_t = 8_000)]
    flow_records: usize,
    /// Benign queries per us-east-1 query-log file (eu-west-1 files get 60% of it).
    #[arg(long, default_value_t = 2_200)]
    dns_records: usize,
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

pub const ACCOUNTS: [&str; 3] = ["111122223333", "444455556666", "777788889999"];
/// us-east-1 logs in the default v2 format, eu-west-1 in a custom v5 format.
pub const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
const DAY_START: (i32, u32, u32) = (2024, 5, 14);

const V2_HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";
const V5_HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr region az-id sublocation-type sublocation-id pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    Web,
    App,
    Db,
    Bastion,
    Worker,
    Windows,
}

struct Instance {
    role: Role,
    id: String,
    eni: String,
    ip: Ipv4Addr,
    subnet: String,
    az: &'static str,
}

/// One account's VPC in one Region: fixed for the whole corpus.
struct Env {
    account: &'static str,
    region: &'static str,
    v5: bool,
    flow_log_id: String,
    vpc: String,
    resolver: Ipv4Addr,
    instances: Vec<Instance>,
    clients: Vec<Ipv4Addr>,
    admin_ips: Vec<Ipv4Addr>,
}

impl Env {
    fn role(&self, role: Role, n: usize) -> usize {
        self.instances.iter().enumerate().filter(|(_, i)| i.role == role).nth(n).map(|(k, _)| k).expect("role present")
    }
    fn of_role(&self, role: Role) -> Vec<usize> {
        self.instances.iter().enumerate().filter(|(_, i)| i.role == role).map(|(k, _)| k).collect()
    }
}

fn public_ip(rng: &mut Rng, first_octets: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(*rng.pick(first_octets), rng.below(256) as u8, rng.below(256) as u8, rng.range(1, 254) as u8)
}

/// First octets of ordinary internet clients; the feeds' noise entries use others.
const CLIENT_OCTETS: &[u8] = &[24, 31, 37, 46, 62, 66, 73, 77, 79, 82, 86, 89, 93, 98, 101, 106, 112, 118, 122, 175, 176, 178, 187, 189, 190, 201];
const FEED_NOISE_OCTETS: &[u8] = &[5, 23, 41, 57, 83, 95, 102, 109, 121, 196];
/// Update mirrors and SaaS (Ubuntu, Fastly, Microsoft, GitHub, Cloudflare, Docker).
const MIRRORS: &[[u8; 3]] = &[
    [91, 189, 91],
    [91, 189, 92],
    [151, 101, 1],
    [151, 101, 65],
    [13, 107, 4],
    [140, 82, 112],
    [140, 82, 121],
    [104, 16, 99],
    [104, 18, 32],
    [44, 219, 3],
];
/// AWS public endpoints (EC2/STS/SSM, S3, DynamoDB) and the pkt-dst-aws-service they carry.
const AWS_ENDPOINTS: &[([u8; 3], &str)] = &[
    ([52, 94, 224], "AMAZON"),
    ([54, 239, 28], "AMAZON"),
    ([3, 5, 0], "S3"),
    ([52, 216, 10], "S3"),
    ([52, 119, 226], "DYNAMODB"),
    ([54, 240, 196], "EC2"),
];

fn env(seed: u64, a: usize, r: usize) -> Env {
    let mut rng = Rng::new(seed ^ (0xE4F0 + (a as u64) * 16 + r as u64));
    let (account, region) = (ACCOUNTS[a], REGIONS[r]);
    let v5 = r == 1;
    let azs: &[&'static str] = if v5 { &["euw1-az1", "euw1-az2", "euw1-az3"] } else { &["use1-az1", "use1-az2", "use1-az4"] };
    let second = (10 + a * 4 + r) as u8;
    let subnets: Vec<String> = (0..3).map(|_| format!("subnet-0{}", rng.hex(16))).collect();
    let counts: &[(Role, usize)] = if v5 {
        &[(Role::Web, 10), (Role::App, 6), (Role::Db, 3), (Role::Bastion, 1), (Role::Worker, 5), (Role::Windows, 1)]
    } else {
        &[(Role::Web, 20), (Role::App, 12), (Role::Db, 6), (Role::Bastion, 1), (Role::Worker, 10), (Role::Windows, 3)]
    };
    let mut instances = Vec::new();
    for (role, n) in counts {
        for _ in 0..*n {
            let s = instances.len() % 3;
            instances.push(Instance {
                role: *role,
                id: format!("i-0{}", rng.hex(16)),
                eni: format!("eni-0{}", rng.hex(16)),
                ip: Ipv4Addr::new(10, second, s as u8 + 1, rng.range(4, 250) as u8),
                subnet: subnets[s].clone(),
                az: azs[s],
            });
        }
    }
    Env {
        account,
        region,
        v5,
        flow_log_id: format!("fl-0{}", rng.hex(16)),
        vpc: format!("vpc-0{}", rng.hex(16)),
        resolver: Ipv4Addr::new(10, second, 0, 2),
        instances,
        clients: (0..20_000).map(|_| public_ip(&mut rng, CLIENT_OCTETS)).collect(),
        admin_ips: (0..3).map(|_| public_ip(&mut rng, CLIENT_OCTETS)).collect(),
    }
}

/// One flow record on an instance's interface.
struct Flow {
    instance: usize,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    proto: u8,
    packets: u64,
    bytes: u64,
    start: i64,
    accept: bool,
    /// OR of SYN 2 / SYN-ACK 18 / FIN 1 / RST 4 (v5 only).
    flags: u16,
    /// Toward the instance.
    ingress: bool,
    aws_service: &'static str,
}

fn write_flow(out: &mut String, env: &Env, f: &Flow) {
    use std::fmt::Write as _;
    let i = &env.instances[f.instance];
    let action = if f.accept { "ACCEPT" } else { "REJECT" };
    let (version, end) = (if env.v5 { 5 } else { 2 }, f.start + 60);
    let _ = write!(
        out,
        "{version} {} {} {} {} {} {} {} {} {} {} {end} {action} OK",
        env.account, i.eni, f.src, f.dst, f.sport, f.dport, f.proto, f.packets, f.bytes, f.start
    );
    if env.v5 {
        let flags = if f.proto == 6 { f.flags.to_string() } else { "0".into() };
        let (src_svc, dst_svc) = if f.ingress { (f.aws_service, "-") } else { ("-", f.aws_service) };
        let (direction, path) = if f.ingress { ("ingress", "-") } else { ("egress", if is_private(f.dst) { "1" } else { "8" }) };
        let _ = write!(
            out,
            " {} {} {} {flags} IPv4 {} {} {} {} - - {src_svc} {dst_svc} {direction} {path}",
            env.vpc, i.subnet, i.id, f.src, f.dst, env.region, i.az
        );
    }
    out.push('\n');
}

fn is_private(ip: Ipv4Addr) -> bool {
    ip.is_private() || ip.is_link_local()
}

fn ephemeral(rng: &mut Rng) -> u16 {
    rng.range(32768, 60999) as u16
}

/// A TCP or UDP exchange: the opener's record and the answer's, both seen on `instance`.
#[allow(clippy::too_many_arguments)]
fn exchange(
    out: &mut Vec<Flow>,
    rng: &mut Rng,
    instance: usize,
    local: Ipv4Addr,
    remote: Ipv4Addr,
    instance_opens: bool,
    port: u16,
    proto: u8,
    start: i64,
    packets: u64,
    avg: u64,
    service: &'static str,
) {
    let eph = ephemeral(rng);
    let (req_p, resp_p) = (packets, (packets * rng.range(6, 14)) / 10 + 1);
    let (req_b, resp_b) = (req_p * avg.min(200), resp_p * avg);
    let (opener, answerer) = if instance_opens { (local, remote) } else { (remote, local) };
    out.push(Flow {
        instance,
        src: opener,
        dst: answerer,
        sport: eph,
        dport: port,
        proto,
        packets: req_p,
        bytes: req_b,
        start,
        accept: true,
        flags: 3,
        ingress: !instance_opens,
        aws_service: service,
    });
    out.push(Flow {
        instance,
        src: answerer,
        dst: opener,
        sport: port,
        dport: eph,
        proto,
        packets: resp_p,
        bytes: resp_b,
        start,
        accept: true,
        flags: 19,
        ingress: instance_opens,
        aws_service: service,
    });
}

/// An attack episode: the type it should raise, on which instance.
#[derive(Clone, serde::Serialize)]
struct Expected {
    #[serde(rename = "type")]
    finding_type: &'static str,
    source: &'static str,
    account: &'static str,
    region: &'static str,
    instance: String,
    eni: String,
    window: usize,
    records: u64,
}

fn skewed(rng: &mut Rng, n: usize) -> usize {
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    ((u * u * u) * n as f64) as usize
}

// Feed entries the attack traffic uses (the feeds add noise entries around them).
const SCANNERS: &[[u8; 4]] =
    &[[162, 142, 125, 11], [162, 142, 125, 45], [167, 94, 138, 102], [71, 6, 199, 23], [198, 235, 24, 130], [162, 142, 125, 221]];
const C2_IPS: &[[u8; 4]] = &[[45, 137, 21, 9], [45, 137, 21, 77], [193, 42, 33, 14]];
const POOL_IPS: &[[u8; 4]] = &[[94, 130, 164, 163], [94, 130, 12, 30], [139, 99, 102, 71]];
const C2_DOMAINS: &[&str] = &["update-checker-svc.com", "cdn-sync-telemetry.net"];
const POOL_DOMAINS: &[&str] = &["pool.minexmr-mirror.org", "xmr-eu1.nanopool-proxy.com"];
const PHISHING_DOMAINS: &[&str] = &["secure-login-microsoftonline.support", "aws-billing-verify.info"];
const EXFIL_DOMAIN: &str = "tlm-metrics-ingest.net";
const REBIND_DOMAIN: &str = "rbndr-7f000001-a9fea9fe.us";

fn ip4(a: [u8; 4]) -> Ipv4Addr {
    Ipv4Addr::from(a)
}

fn window_start(w: usize) -> i64 {
    let (y, m, d) = DAY_START;
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap().timestamp() + w as i64 * 300
}

/// The benign flows of one 5-minute file, then its attack flows (recorded in `expected`).
fn flow_file(seed: u64, env: &Env, a: usize, w: usize, target: usize, expected: &mut Vec<Expected>) -> (String, u64) {
    let mut rng = Rng::new(seed ^ 0xF10 ^ ((a as u64) << 40) ^ ((env.v5 as u64) << 32) ^ w as u64);
    let t0 = window_start(w);
    let mut flows: Vec<Flow> = Vec::with_capacity(target + 64);
    let webs = env.of_role(Role::Web);
    let apps = env.of_role(Role::App);
    let dbs = env.of_role(Role::Db);
    let bastion = env.role(Role::Bastion, 0);
    office_sessions(env, a, w, t0, &mut flows);
    let mut nodata = 0u64;
    while flows.len() < target {
        let start = t0 + rng.below(240) as i64;
        let any = rng.below(env.instances.len() as u64) as usize;
        let ip = |k: usize| env.instances[k].ip;
        match rng.weighted(&[40, 14, 8, 10, 8, 16, 1, 1]) {
            0 => {
                let k = webs[rng.below(webs.len() as u64) as usize];
                let client = env.clients[skewed(&mut rng, env.clients.len())];
                let port = if rng.chance(0.9) { 443 } else { 80 };
                let packets = rng.range(6, 60);
                let avg = rng.range(300, 1400);
                exchange(&mut flows, &mut rng, k, ip(k), client, false, port, 6, start, packets, avg, "-");
            }
            1 => {
                let (app, db) = (apps[rng.below(apps.len() as u64) as usize], dbs[rng.below(dbs.len() as u64) as usize]);
                let port = if rng.chance(0.7) { 5432 } else { 6379 };
                let packets = rng.range(4, 400);
                let avg = rng.range(100, 900);
                exchange(&mut flows, &mut rng, app, ip(app), ip(db), true, port, 6, start, packets, avg, "-");
            }
            2 => {
                let m = rng.pick(MIRRORS);
                let mirror = Ipv4Addr::new(m[0], m[1], m[2], rng.range(1, 60) as u8);
                let port = if rng.chance(0.8) { 443 } else { 80 };
                let packets = rng.range(20, 4000);
                exchange(&mut flows, &mut rng, any, ip(any), mirror, true, port, 6, start, packets, 1200, "-");
            }
            3 => {
                let (e, svc) = *rng.pick(AWS_ENDPOINTS);
                let endpoint = Ipv4Addr::new(e[0], e[1], e[2], rng.range(1, 250) as u8);
                let packets = rng.range(8, 200);
                let avg = rng.range(200, 1300);
                exchange(&mut flows, &mut rng, any, ip(any), endpoint, true, 443, 6, start, packets, avg, svc);
            }
            4 => {
                let packets = rng.range(1, 4);
                exchange(&mut flows, &mut rng, any, ip(any), env.resolver, true, 53, 17, start, packets, 80, "-");
            }
            5 => {
                // Internet background noise, refused by the security groups.
                let k = if rng.chance(0.5) { webs[rng.below(webs.len() as u64) as usize] } else { any };
                let port = *rng.pick(&[22u16, 23, 445, 3389, 1433, 8080, 5900, 6379, 9200, 2375]);
                let port = if rng.chance(0.3) { rng.range(1, 65535) as u16 } else { port };
                let src = public_ip(&mut rng, CLIENT_OCTETS);
                let sport = ephemeral(&mut rng);
                let packets = rng.range(1, 2);
                flows.push(Flow {
                    instance: k,
                    src,
                    dst: ip(k),
                    sport,
                    dport: port,
                    proto: 6,
                    packets,
                    bytes: 44 * packets,
                    start,
                    accept: false,
                    flags: 2,
                    ingress: true,
                    aws_service: "-",
                });
            }
            6 => {
                // An admin's shell on the bastion: long sessions, few connections.
                let admin = *rng.pick(&env.admin_ips);
                let packets = rng.range(300, 8000);
                exchange(&mut flows, &mut rng, bastion, ip(bastion), admin, false, 22, 6, start, packets, 160, "-");
            }
            _ => nodata += 1,
        }
    }
    let benign = flows.len() as u64;
    let mut attack: Vec<Flow> = Vec::new();
    attacks_flow(&mut rng, env, a, w, t0, &mut attack, expected);
    // Interleave the attack records with the benign ones.
    let mut lines: Vec<(u64, Flow)> = flows.into_iter().map(|f| (0, f)).collect();
    for (n, f) in attack.into_iter().enumerate() {
        let at = rng.below(lines.len() as u64 + 1) as usize;
        lines.insert(at, (n as u64 + 1, f));
    }
    let mut out = String::with_capacity(lines.len() * if env.v5 { 260 } else { 120 });
    out.push_str(if env.v5 { V5_HEADER } else { V2_HEADER });
    out.push('\n');
    let mut written = 0u64;
    for (_, f) in &lines {
        write_flow(&mut out, env, f);
        written += 1;
    }
    // NODATA rows: an interface with no traffic in the window (counted as records, not analysed).
    for n in 0..nodata {
        let i = &env.instances[(n as usize * 7 + w) % env.instances.len()];
        let (v, tail) = if env.v5 { (5, format!(" {} {} {}{}", env.vpc, i.subnet, i.id, " -".repeat(12))) } else { (2, String::new()) };
        out.push_str(&format!("{v} {} {} - - - - - - - {t0} {} - NODATA{tail}\n", env.account, i.eni, t0 + 60));
        written += 1;
    }
    debug_assert!(written >= benign);
    (out, written)
}

/// Windows (5 minutes each) an office session lasts before its user reconnects: two hours.
const SESSION_WINDOWS: usize = 24;

/// An office's engineers behind one NAT address (the first admin address) holding sessions open
/// all day, logged once a minute per direction with the same 5-tuple: four SSH shells on the
/// bastion, two on a jump host (the last worker), an RDP session on the last Windows instance.
/// SYN opens each session, FIN closes it two hours later (v5 flags); between, keep-alives and a
/// little typing. None of it is an attack: it must raise nothing.
fn office_sessions(env: &Env, a: usize, w: usize, t0: i64, out: &mut Vec<Flow>) {
    let mut rng = Rng::new(0x0FF1CE ^ ((a as u64) << 40) ^ ((env.v5 as u64) << 32) ^ w as u64);
    let office = env.admin_ips[0];
    let workers = env.of_role(Role::Worker);
    let windows = env.of_role(Role::Windows);
    let (bastion, jump, desktop) = (env.role(Role::Bastion, 0), workers[workers.len() - 1], windows[windows.len() - 1]);
    let sessions: [(usize, u16); 7] = [(bastion, 22), (bastion, 22), (bastion, 22), (bastion, 22), (jump, 22), (jump, 22), (desktop, 3389)];
    let block = w / SESSION_WINDOWS;
    let (opens, closes) = (w.is_multiple_of(SESSION_WINDOWS), w % SESSION_WINDOWS == SESSION_WINDOWS - 1);
    for (user, (k, port)) in sessions.into_iter().enumerate() {
        let (local, cport) = (env.instances[k].ip, 50_000 + user as u16 * 100 + (block % 100) as u16);
        for minute in 0..5i64 {
            let (first, last) = (opens && minute == 0, closes && minute == 4);
            let (request_flags, answer_flags) = match (first, last) {
                (true, _) => (2, 18),
                (false, true) => (1, 1),
                _ => (0, 0),
            };
            let start = t0 + minute * 60 + user as i64;
            let packets = rng.range(3, 40);
            let bytes = packets * rng.range(80, 220);
            out.push(Flow {
                instance: k,
                src: office,
                dst: local,
                sport: cport,
                dport: port,
                proto: 6,
                packets,
                bytes,
                start,
                accept: true,
                flags: request_flags,
                ingress: true,
                aws_service: "-",
            });
            out.push(Flow {
                instance: k,
                src: local,
                dst: office,
                sport: port,
                dport: cport,
                proto: 6,
                packets: packets + 2,
                bytes: bytes * 3,
                start,
                accept: true,
                flags: answer_flags,
                ingress: false,
                aws_service: "-",
            });
        }
    }
}

/// The attack episodes planned for (account, Region, window): deterministic by position.
fn attacks_flow(rng: &mut Rng, env: &Env, a: usize, w: usize, t0: i64, out: &mut Vec<Flow>, expected: &mut Vec<Expected>) {
    let shift = a * 3; // accounts' episodes in different windows
    let note = |t: &'static str, k: usize, records: u64, expected: &mut Vec<Expected>| {
        let i = &env.instances[k];
        expected.push(Expected {
            finding_type: t,
            source: "flow",
            account: env.account,
            region: env.region,
            instance: i.id.clone(),
            eni: i.eni.clone(),
            window: w,
            records,
        });
    };
    let ip = |k: usize| env.instances[k].ip;
    if !env.v5 {
        if w == 10 + shift {
            // SSH brute force on the bastion: 45 short accepted connections in 4.5 minutes.
            let k = env.role(Role::Bastion, 0);
            let attacker = Ipv4Addr::new(218, 92, 0, 100 + a as u8);
            for n in 0..45 {
                let sport = ephemeral(rng);
                out.push(Flow {
                    instance: k,
                    src: attacker,
                    dst: ip(k),
                    sport,
                    dport: 22,
                    proto: 6,
                    packets: rng.range(10, 22),
                    bytes: rng.range(2000, 4000),
                    start: t0 + n * 6,
                    accept: true,
                    flags: 3,
                    ingress: true,
                    aws_service: "-",
                });
            }
            note("UnauthorizedAccess:EC2/SSHBruteForce", k, 45, expected);
        }
        if w == 30 + shift {
            let k = env.role(Role::Windows, 0);
            let attacker = Ipv4Addr::new(61, 177, 172, 60 + a as u8);
            for n in 0..40 {
                let sport = ephemeral(rng);
                out.push(Flow {
                    instance: k,
                    src: attacker,
                    dst: ip(k),
                    sport,
                    dport: 3389,
                    proto: 6,
                    packets: rng.range(12, 30),
                    bytes: rng.range(3000, 6000),
                    start: t0 + n * 7,
                    accept: true,
                    flags: 3,
                    ingress: true,
                    aws_service: "-",
                });
            }
            note("UnauthorizedAccess:EC2/RDPBruteForce", k, 40, expected);
        }
        if w == 40 + shift {
            // Outbound port scan of one host: 120 ports, SYNs only.
            let k = env.role(Role::Worker, 0);
            let target = Ipv4Addr::new(147, 75, 40, 20 + a as u8);
            for port in 1..=120u16 {
                let sport = ephemeral(rng);
                out.push(Flow {
                    instance: k,
                    src: ip(k),
                    dst: target,
                    sport,
                    dport: port,
                    proto: 6,
                    packets: 1,
                    bytes: 44,
                    start: t0 + (port as i64) * 2,
                    accept: true,
                    flags: 2,
                    ingress: false,
                    aws_service: "-",
                });
            }
            note("Recon:EC2/Portscan", k, 120, expected);
        }
        if (50 + shift..56 + shift).contains(&w) {
            // C2 beacons: one short HTTPS connection a minute.
            let k = env.role(Role::Worker, 1);
            let c2 = ip4(C2_IPS[a % C2_IPS.len()]);
            for n in 0..5 {
                exchange(out, rng, k, ip(k), c2, true, 443, 6, t0 + n * 60, 6, 300, "-");
            }
            if w == 50 + shift {
                note("Backdoor:EC2/C&CActivity.B", k, 60, expected);
            }
        }
        if w == 20 + shift || w == 60 + shift {
            // Scanner-feed IPs reaching open ports (accepted): port probes.
            let targets = [(env.role(Role::Web, 0), 443u16), (env.role(Role::Web, 1), 80), (env.role(Role::App, 0), 9200)];
            for (n, (k, port)) in targets.iter().enumerate() {
                let scanner = ip4(SCANNERS[(n + a + w) % SCANNERS.len()]);
                let sport = ephemeral(rng);
                out.push(Flow {
                    instance: *k,
                    src: scanner,
                    dst: ip(*k),
                    sport,
                    dport: *port,
                    proto: 6,
                    packets: 2,
                    bytes: 120,
                    start: t0 + 30 * n as i64,
                    accept: true,
                    flags: 3,
                    ingress: true,
                    aws_service: "-",
                });
                if w == 20 + shift {
                    note("Recon:EC2/PortProbeUnprotectedPort", *k, 2, expected);
                }
            }
        }
    } else {
        if w == 15 + shift {
            // Outbound port sweep: telnet on 150 public hosts.
            let k = env.role(Role::Worker, 0);
            for n in 0..150u64 {
                let target = Ipv4Addr::new(185, 100, 87 + (n / 200) as u8, (n % 200) as u8 + 20);
                let sport = ephemeral(rng);
                out.push(Flow {
                    instance: k,
                    src: ip(k),
                    dst: target,
                    sport,
                    dport: 23,
                    proto: 6,
                    packets: 1,
                    bytes: 44,
                    start: t0 + (n as i64),
                    accept: true,
                    flags: 2,
                    ingress: false,
                    aws_service: "-",
                });
            }
            note("Impact:EC2/PortSweep", k, 150, expected);
        }
        if (60 + shift..66 + shift).contains(&w) {
            // A miner's stratum connection to a pool.
            let k = env.role(Role::Worker, 1);
            let pool = ip4(POOL_IPS[a % POOL_IPS.len()]);
            exchange(out, rng, k, ip(k), pool, true, 3333, 6, t0 + 10, 400, 120, "-");
            if w == 60 + shift {
                note("CryptoCurrency:EC2/BitcoinTool.B", k, 12, expected);
            }
        }
        if w == 70 + shift {
            // UDP flood to a DNS server: 700k small packets in one record.
            let k = env.role(Role::App, 0);
            let target = Ipv4Addr::new(104, 244, 42, 65 + a as u8);
            let sport = ephemeral(rng);
            out.push(Flow {
                instance: k,
                src: ip(k),
                dst: target,
                sport,
                dport: 53,
                proto: 17,
                packets: 700_000,
                bytes: 700_000 * 64,
                start: t0 + 30,
                accept: true,
                flags: 0,
                ingress: false,
                aws_service: "-",
            });
            note("Backdoor:EC2/DenialOfService.Dns", k, 1, expected);
        }
        if w == 80 + shift {
            // The instance brute-forces someone else's SSH (ACTOR).
            let k = env.role(Role::Worker, 2);
            let victim = Ipv4Addr::new(159, 203, 10, 40 + a as u8);
            for n in 0..30 {
                let sport = ephemeral(rng);
                out.push(Flow {
                    instance: k,
                    src: ip(k),
                    dst: victim,
                    sport,
                    dport: 22,
                    proto: 6,
                    packets: rng.range(10, 20),
                    bytes: rng.range(2000, 3500),
                    start: t0 + n * 8,
                    accept: true,
                    flags: 3,
                    ingress: false,
                    aws_service: "-",
                });
            }
            note("UnauthorizedAccess:EC2/SSHBruteForce", k, 30, expected);
        }
    }
}

// Benign query names: AWS endpoints, update mirrors, SaaS, CDN hosts.
const AWS_NAMES: &[&str] = &[
    "ec2.{r}.amazonaws.com",
    "sts.{r}.amazonaws.com",
    "ssm.{r}.amazonaws.com",
    "ec2messages.{r}.amazonaws.com",
    "ssmmessages.{r}.amazonaws.com",
    "logs.{r}.amazonaws.com",
    "monitoring.{r}.amazonaws.com",
    "dynamodb.{r}.amazonaws.com",
    "kms.{r}.amazonaws.com",
    "s3.{r}.amazonaws.com",
    "secretsmanager.{r}.amazonaws.com",
    "sqs.{r}.amazonaws.com",
    "app-assets-prod-{a}.s3.{r}.amazonaws.com",
    "sts.amazonaws.com",
];
const UPDATE_NAMES: &[&str] = &[
    "security.ubuntu.com",
    "archive.ubuntu.com",
    "{r}.ec2.archive.ubuntu.com",
    "al2023-repos-{r}-de612dc2.s3.dualstack.{r}.amazonaws.com",
    "cdn.amazonlinux.com",
    "download.docker.com",
    "packages.microsoft.com",
    "pypi.org",
    "files.pythonhosted.org",
    "registry.npmjs.org",
    "github.com",
    "api.github.com",
    "objects.githubusercontent.com",
    "ghcr.io",
    "registry-1.docker.io",
    "production.cloudflare.docker.com",
    "dl.google.com",
    "repo1.maven.org",
];
const SAAS_NAMES: &[&str] = &[
    "api.stripe.com",
    "hooks.slack.com",
    "api.datadoghq.com",
    "http-intake.logs.datadoghq.com",
    "o123456.ingest.sentry.io",
    "www.googleapis.com",
    "oauth2.googleapis.com",
    "api.sendgrid.com",
    "login.microsoftonline.com",
    "graph.microsoft.com",
    "api.twilio.com",
    "cognito-idp.{r}.amazonaws.com",
];
/// CloudFront and ELB host names look random but sit under private PSL suffixes.
const CDN_NAMES: &[&str] = &[
    "d2x8vq3fjk1l9a.cloudfront.net",
    "d1qwz7hn4ktp0c.cloudfront.net",
    "dzk3m9rx2bv8f.cloudfront.net",
    "d3c33hcgiwev3.cloudfront.net",
    "d1f8g7kq2wx9zp.cloudfront.net",
    "d36jcksde1wxzq.cloudfront.net",
    "dxm4q8s2lkr7v.cloudfront.net",
    "d2lkq8z7xm3pvb.cloudfront.net",
    "internal-api-alb-1839204812.{r}.elb.amazonaws.com",
    "web-prod-nlb-4f8a2c1d9e0b7a3c.elb.{r}.amazonaws.com",
    "static.xx.fbcdn.net",
    "fonts.gstatic.com",
    "cdn.jsdelivr.net",
    "cdnjs.cloudflare.com",
    "e6858.dsce9.akamaiedge.net",
    "a1887.dscq.akamai.net",
];

fn fill(name: &str, env: &Env) -> String {
    name.replace("{r}", env.region).replace("{a}", env.account)
}

struct Query<'a> {
    time: i64,
    name: String,
    qtype: &'static str,
    rcode: &'static str,
    answers: Vec<(String, &'static str)>,
    instance: &'a Instance,
    transport: &'static str,
}

fn iso(t: i64) -> String {
    DateTime::<Utc>::from_timestamp(t, 0).unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn write_query(out: &mut String, j: &mut Json, env: &Env, q: &Query, rng: &mut Rng) {
    j.begin();
    j.str("version", "1.100000").str("account_id", env.account).str("region", env.region).str("vpc_id", &env.vpc);
    j.str("query_timestamp", &iso(q.time)).str("query_name", &q.name).str("query_type", q.qtype).str("query_class", "IN");
    j.str("rcode", q.rcode);
    j.arr("answers");
    for (rdata, t) in &q.answers {
        j.begin().str("Rdata", rdata).str("Type", t).str("Class", "IN").end();
    }
    j.end_arr();
    j.str("srcaddr", &q.instance.ip.to_string()).str("srcport", &ephemeral(rng).to_string()).str("transport", q.transport);
    j.obj("srcids").str("instance", &q.instance.id).end();
    j.end();
    out.push_str(&j.take());
    out.push('\n');
}

fn a_answers(rng: &mut Rng, n: u64) -> Vec<(String, &'static str)> {
    (0..n).map(|_| (public_ip(rng, &[3, 13, 18, 34, 52, 54, 104, 151]).to_string(), "A")).collect()
}

fn dns_file(seed: u64, env: &Env, a: usize, w: usize, target: usize, expected: &mut Vec<Expected>) -> (String, u64) {
    let mut rng = Rng::new(seed ^ 0xD45 ^ ((a as u64) << 40) ^ ((env.v5 as u64) << 32) ^ w as u64);
    let t0 = window_start(w);
    let mut queries: Vec<Query> = Vec::with_capacity(target + 128);
    while queries.len() < target {
        let instance = rng.pick(&env.instances);
        let time = t0 + rng.below(300) as i64;
        let transport = if rng.chance(0.97) { "UDP" } else { "TCP" };
        let pool: &[&str] = match (instance.role, rng.below(10)) {
            (_, 0) => UPDATE_NAMES,
            (Role::Web, 1..=4) => CDN_NAMES,
            (Role::Web | Role::App, 5..=6) => SAAS_NAMES,
            _ => AWS_NAMES,
        };
        let (name, qtype, rcode, answers) = match rng.below(20) {
            0 => {
                let peer = rng.pick(&env.instances);
                let o = peer.ip.octets();
                (
                    format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0]),
                    "PTR",
                    "NOERROR",
                    vec![(format!("ip-{}-{}-{}-{}.ec2.internal.", o[0], o[1], o[2], o[3]), "PTR")],
                )
            }
            1 => {
                let peer = rng.pick(&env.instances);
                (
                    format!("{}.svc.corp.internal.", ["db-primary", "cache", "api", "auth", "queue"][rng.below(5) as usize]),
                    "A",
                    "NOERROR",
                    vec![(peer.ip.to_string(), "A")],
                )
            }
            2 => (fill(*rng.pick(pool), env) + ".", "AAAA", "NOERROR", vec![]),
            3 if rng.chance(0.1) => ("instance-data.ec2.internal.".into(), "A", "NOERROR", vec![("169.254.169.254".into(), "A")]),
            4 if rng.chance(0.3) => (format!("{}.{}.", rng.chars(b"abcdefghijklmnopqrstuvwxyz", 7), "example.org"), "A", "NXDOMAIN", vec![]),
            _ => {
                let name = fill(*rng.pick(pool), env);
                let n = rng.range(1, 4);
                let mut answers = Vec::new();
                if name.contains("cloudfront") || name.contains("akamai") || name.contains("github") {
                    answers.push((format!("{name}."), "CNAME"));
                }
                answers.extend(a_answers(&mut rng, n));
                (name + ".", "A", "NOERROR", answers)
            }
        };
        queries.push(Query { time, name, qtype, rcode, answers, instance, transport });
    }
    attacks_dns(&mut rng, env, a, w, t0, &mut queries, expected);
    queries.sort_by_key(|q| q.time);
    let mut out = String::with_capacity(queries.len() * 420);
    let mut j = Json::new();
    for q in &queries {
        write_query(&mut out, &mut j, env, q, &mut rng);
    }
    (out, queries.len() as u64)
}

fn attacks_dns<'e>(rng: &mut Rng, env: &'e Env, a: usize, w: usize, t0: i64, out: &mut Vec<Query<'e>>, expected: &mut Vec<Expected>) {
    let shift = a * 3;
    let note = |t: &'static str, k: usize, records: u64, expected: &mut Vec<Expected>| {
        let i = &env.instances[k];
        expected.push(Expected {
            finding_type: t,
            source: "dns",
            account: env.account,
            region: env.region,
            instance: i.id.clone(),
            eni: i.eni.clone(),
            window: w,
            records,
        });
    };
    let q = |time: i64, name: String, rcode: &'static str, answers: Vec<(String, &'static str)>, k: usize| Query {
        time,
        name,
        qtype: "A",
        rcode,
        answers,
        instance: &env.instances[k],
        transport: "UDP",
    };
    if !env.v5 {
        if w == 12 + shift {
            // A DGA cycling through generated .com/.net names until one resolves.
            let k = env.role(Role::Worker, 0);
            for n in 0..14 {
                let label = rng.chars(b"bcdfghjklmnpqrstvwxz0123456789", 16);
                let tld = ["com", "net", "org", "info"][n % 4];
                out.push(q(t0 + 20 * n as i64, format!("{label}.{tld}."), "NXDOMAIN", vec![], k));
            }
            note("Trojan:EC2/DGADomainRequest.B", k, 14, expected);
        }
        if w == 24 + shift {
            // DNS tunnelling: hex-encoded chunks under one domain.
            let k = env.role(Role::Worker, 1);
            for n in 0..90 {
                let chunk = rng.hex(48);
                out.push(q(t0 + 3 * n, format!("{}.{}.{EXFIL_DOMAIN}.", &chunk[..40], n), "NOERROR", vec![("198.18.0.1".into(), "A")], k));
            }
            note("Trojan:EC2/DNSDataExfiltration", k, 90, expected);
        }
        if w == 50 + shift {
            let k = env.role(Role::Worker, 1);
            for n in 0..4 {
                out.push(q(t0 + 60 * n, format!("api.{}.", C2_DOMAINS[a % 2]), "NOERROR", vec![(ip4(C2_IPS[a % C2_IPS.len()]).to_string(), "A")], k));
            }
            note("Backdoor:EC2/C&CActivity.B!DNS", k, 4, expected);
        }
        if w == 33 + shift {
            let k = env.role(Role::App, 1);
            out.push(q(t0 + 100, format!("www.{}.", PHISHING_DOMAINS[a % 2]), "NOERROR", a_answers(rng, 1), k));
            note("Trojan:EC2/PhishingDomainRequest!DNS", k, 1, expected);
        }
        if w == 44 + shift {
            let k = env.role(Role::Web, 2);
            out.push(q(t0 + 200, format!("{REBIND_DOMAIN}."), "NOERROR", vec![("169.254.169.254".into(), "A")], k));
            note("UnauthorizedAccess:EC2/MetadataDNSRebind", k, 1, expected);
        }
    } else if w == 60 + shift {
        let k = env.role(Role::Worker, 1);
        for n in 0..3 {
            out.push(q(t0 + 90 * n, format!("{}.", POOL_DOMAINS[a % 2]), "NOERROR", vec![(ip4(POOL_IPS[a % POOL_IPS.len()]).to_string(), "A")], k));
        }
        note("CryptoCurrency:EC2/BitcoinTool.B!DNS", k, 3, expected);
    }
}

fn gzip(path: &Path, text: &str) -> u64 {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut enc = GzEncoder::new(Vec::with_capacity(text.len() / 6), Compression::default());
    enc.write_all(text.as_bytes()).unwrap();
    let bytes = enc.finish().unwrap();
    std::fs::write(path, &bytes).unwrap();
    bytes.len() as u64
}

/// Writes a feed: the entries the attacks use, plus `noise` random entries nothing matches.
fn write_feed(path: &Path, rng: &mut Rng, used: &[String], noise: usize, domain: bool) {
    let mut lines: Vec<String> = used.to_vec();
    for _ in 0..noise {
        lines.push(if domain {
            format!(
                "{}-{}.{}",
                rng.chars(b"abcdefghijklmnopqrstuvwxyz", 8),
                rng.chars(b"abcdefghijklmnopqrstuvwxyz", 6),
                *rng.pick(&["com", "net", "xyz", "top", "ru"])
            )
        } else {
            public_ip(rng, FEED_NOISE_OCTETS).to_string()
        });
    }
    lines.sort();
    lines.dedup();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[derive(Default)]
struct Totals {
    files: u64,
    records: u64,
    raw: u64,
    gz: u64,
}

fn main() {
    let args = Args::parse();
    let envs: Vec<Env> = (0..ACCOUNTS.len()).flat_map(|a| (0..REGIONS.len()).map(move |r| (a, r))).map(|(a, r)| env(args.seed, a, r)).collect();
    // Jobs: (source, env index, window).
    let jobs: Vec<(bool, usize, usize)> =
        [false, true].iter().flat_map(|dns| (0..envs.len()).flat_map(move |e| (0..args.windows).map(move |w| (*dns, e, w)))).collect();
    let next = AtomicUsize::new(0);
    let totals = Mutex::new([Totals::default(), Totals::default()]);
    let expected = Mutex::new(Vec::<Expected>::new());
    std::thread::scope(|s| {
        for _ in 0..args.threads.max(1) {
            s.spawn(|| {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(dns, e, w)) = jobs.get(n) else { break };
                    let env = &envs[e];
                    let a = e / REGIONS.len();
                    let scale = if env.v5 { 0.6 } else { 1.0 };
                    let mut exp = Vec::new();
                    let stamp = DateTime::<Utc>::from_timestamp(window_start(w) + 300, 0).unwrap();
                    let day = stamp.format("%Y/%m/%d");
                    let (text, records) = if dns {
                        dns_file(args.seed, env, a, w, (args.dns_records as f64 * scale) as usize, &mut exp)
                    } else {
                        flow_file(args.seed, env, a, w, (args.flow_records as f64 * scale) as usize, &mut exp)
                    };
                    let hash = Rng::new(args.seed ^ (n as u64) << 8).hex(8);
                    let rel = if dns {
                        format!(
                            "AWSLogs/{}/vpcdnsquerylogs/{}/{day}/{}_vpcdnsquerylogs_{}_{}_{hash}.log.gz",
                            env.account,
                            env.vpc,
                            env.vpc,
                            env.account,
                            stamp.format("%Y%m%dT%H%MZ")
                        )
                    } else {
                        format!(
                            "AWSLogs/{}/vpcflowlogs/{}/{day}/{}_vpcflowlogs_{}_{}_{}_{hash}.log.gz",
                            env.account,
                            env.region,
                            env.account,
                            env.region,
                            env.flow_log_id,
                            stamp.format("%Y%m%dT%H%MZ")
                        )
                    };
                    let gz = gzip(&args.out.join(&rel), &text);
                    let mut t = totals.lock().unwrap();
                    let t = &mut t[dns as usize];
                    t.files += 1;
                    t.records += records;
                    t.raw += text.len() as u64;
                    t.gz += gz;
                    expected.lock().unwrap().extend(exp);
                }
            });
        }
    });
    let mut rng = Rng::new(args.seed ^ 0xFEED);
    let feeds = args.out.join("feeds");
    let strs = |ips: &[[u8; 4]]| ips.iter().map(|i| ip4(*i).to_string()).collect::<Vec<_>>();
    let names = |d: &[&str]| d.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    write_feed(&feeds.join("scanner.txt"), &mut rng, &strs(SCANNERS), 5_000, false);
    write_feed(&feeds.join("c2.txt"), &mut rng, &strs(C2_IPS), 5_000, false);
    write_feed(&feeds.join("bitcoin.txt"), &mut rng, &strs(POOL_IPS), 2_000, false);
    write_feed(&feeds.join("domains-c2.txt"), &mut rng, &names(C2_DOMAINS), 5_000, true);
    write_feed(&feeds.join("domains-bitcoin.txt"), &mut rng, &names(POOL_DOMAINS), 2_000, true);
    write_feed(&feeds.join("domains-phishing.txt"), &mut rng, &names(PHISHING_DOMAINS), 5_000, true);

    let mut expected = expected.into_inner().unwrap();
    expected.sort_by(|a, b| {
        (a.source, a.finding_type, &a.account, a.region, &a.instance, a.window).cmp(&(
            b.source,
            b.finding_type,
            &b.account,
            b.region,
            &b.instance,
            b.window,
        ))
    });
    let t = totals.into_inner().unwrap();
    let mut by_type = BTreeMap::<&str, u64>::new();
    for e in &expected {
        *by_type.entry(e.finding_type).or_default() += 1;
    }
    let summary = |t: &Totals| serde_json::json!({"files": t.files, "records": t.records, "uncompressedBytes": t.raw, "compressedBytes": t.gz});
    let manifest = serde_json::json!({
        "seed": args.seed,
        "windows": args.windows,
        "accounts": ACCOUNTS,
        "regions": REGIONS,
        "flowRegionForV2": REGIONS[0],
        "flow": summary(&t[0]),
        "dns": summary(&t[1]),
        "episodesByType": by_type,
        "expected": expected,
        "feeds": {"flow": {"scanner": "feeds/scanner.txt", "c2": "feeds/c2.txt", "bitcoin": "feeds/bitcoin.txt"},
                  "dns": {"c2": "feeds/domains-c2.txt", "bitcoin": "feeds/domains-bitcoin.txt", "phishing": "feeds/domains-phishing.txt"}},
    });
    std::fs::write(args.out.join("manifest.json"), serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
    eprintln!(
        "flow: {} files, {} records, {:.0} MB ({:.0} MB gzip); dns: {} files, {} records, {:.0} MB ({:.0} MB gzip); {} attack episodes",
        t[0].files,
        t[0].records,
        t[0].raw as f64 / 1e6,
        t[0].gz as f64 / 1e6,
        t[1].files,
        t[1].records,
        t[1].raw as f64 / 1e6,
        t[1].gz as f64 / 1e6,
        expected.len()
    );
}
