//! DGADomainRequest.B and DNSDataExfiltration: malicious sets raise them, benign sets (popular
//! domains, CDN-heavy and update traffic, AWS service endpoints, long word-like names) do not;
//! the windowed state is bounded, serializable and independent of how the input is split.
use vedette_domain::Occurrence;
use vedette_domain::dns::detect::{DnsContext, DnsIntel};
use vedette_domain::dns::domain::has_private_suffix;
use vedette_domain::dns::heuristics::{self, DGA_MIN_SCORE, DnsHeuristics, dga_score, registrable_label};
use vedette_domain::dns::{parse_query_record, registrable_domain};

const DETECTOR: &str = "12abc34d567e8fa901bc2d34e56789f0";

/// Real, popular registrable domains, many long, several with digits or hyphens.
const BENIGN_DOMAINS: &[&str] = &[
    "amazonaws.com",
    "cloudfront.net",
    "akamaiedge.net",
    "akamaitechnologies.com",
    "microsoftonline.com",
    "windowsupdate.com",
    "googleapis.com",
    "googleusercontent.com",
    "googlesyndication.com",
    "doubleclick.net",
    "launchpadcontent.net",
    "cloudflare-dns.com",
    "githubusercontent.com",
    "githubassets.com",
    "elasticbeanstalk.com",
    "amazontrust.com",
    "letsencrypt.org",
    "symantecliveupdate.com",
    "pythonhosted.org",
    "msftconnecttest.com",
    "azurewebsites.net",
    "trafficmanager.net",
    "stackoverflow.com",
    "salesforceliveagent.com",
    "kaspersky-labs.com",
    "trendmicro.com",
    "crashlytics.com",
    "app-measurement.com",
    "googletagmanager.com",
    "googleadservices.com",
    "rubiconproject.com",
    "scorecardresearch.com",
    "optimizely.com",
    "fedoraproject.org",
    "raspberrypi.org",
    "alpinelinux.org",
    "kubernetes.io",
    "influxdata.com",
    "cloudamqp.com",
    "digitaloceanspaces.com",
    "dropboxusercontent.com",
    "steamcontent.com",
    "steampowered.com",
    "discordapp.com",
    "protonmail.com",
    "alibabacloud.com",
    "tencentcloudapi.com",
    "huaweicloud.com",
    "mercadolibre.com",
    "squarespace.com",
    "whatismyipaddress.com",
    "gotomeeting.com",
    "ringcentral.com",
    "postmarkapp.com",
    "bootstrapcdn.com",
    "fontawesome.com",
    "cookiebot.com",
    "usercentrics.eu",
    "surveymonkey.com",
    "everesttech.net",
    "casalemedia.com",
    "smartadserver.com",
    "doubleverify.com",
    "adsafeprotected.com",
    "papertrailapp.com",
    "statuspage.io",
    "uptimerobot.com",
    "appdynamics.com",
    "office365.com",
    "sharepointonline.com",
    "live-video-cdn.com",
    "playstation.net",
    "nflxvideo.net",
    "googlevideo.com",
    "xboxlive.com",
    "wikipedia.org",
    "wikimedia.org",
    "instagram.com",
    "whatsapp.net",
    "linkedin.com",
    "bitdefender.net",
    "jetbrains.com",
    "visualstudio.com",
    "chocolatey.org",
    "snapcraft.io",
    "hashicorp.com",
    "postgresql.org",
    "redislabs.com",
    "herokuapp.com",
    "backblazeb2.com",
    "wasabisys.com",
    "duckduckgo.com",
    "myshopify.com",
    "cloudinary.com",
    "qualtrics.com",
    "docusign.net",
    "adobedtm.com",
    "honeybadger.io",
    "dynatrace.com",
    "grafana.net",
    "sumologic.com",
    "datadoghq.com",
    "newrelic.com",
    "sentry-cdn.com",
    "segment-cdn.io",
    "mozilla.net",
    "ubuntu-archive.com",
    "security-updates.example.com",
    "my-application-frontend-production.com",
    "internationalbusiness.com",
    "thequickbrownfoxjumps.org",
    "strengthsfinder.com",
    "rhythmandblues.net",
    "lengthwise-design.co.uk",
    "1e100.net",
    "cdn77-storage.com",
    "edgecastcdn.net",
    "llnwd.net",
    "azureedge.net",
    "footprintdns.com",
    "msedge.net",
    "sfx-ms-cdn.com",
];

fn line(ts_seconds: u32, name: &str, instance: &str) -> String {
    let (minute, second) = (ts_seconds / 60, ts_seconds % 60);
    format!(
        r#"{{"version":"1.100000","account_id":"111122223333","region":"us-east-1","vpc_id":"vpc-1","query_timestamp":"2024-03-01T10:{minute:02}:{second:02}Z","query_name":"{name}.","query_type":"A","query_class":"IN","rcode":"NXDOMAIN","answers":[],"srcaddr":"10.0.1.5","srcport":"5353","transport":"UDP","srcids":{{"instance":"{instance}"}}}}"#
    )
}

fn feed(state: &mut DnsHeuristics, lines: &[String]) -> Vec<Occurrence> {
    let intel = DnsIntel::default();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let record = parse_query_record(l.as_bytes()).unwrap();
        let ctx = DnsContext { detector_id: DETECTOR, now_ms: 0, source: "q", position: i as u64 + 1, intel: &intel, inventory: None };
        out.extend(state.observe(&record, &ctx));
    }
    out
}

fn types(o: &[Occurrence]) -> Vec<String> {
    o.iter().map(|o| o.finding.r#type.clone().unwrap()).collect()
}

/// Deterministic pseudo-random generator (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn string(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len).map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize] as char).collect()
    }
}

const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

fn dga_domains(n: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng(seed);
    let tlds = ["com", "net", "info", "org", "biz"];
    (0..n)
        .map(|i| {
            let len = 12 + (rng.next() % 9) as usize;
            let label = rng.string(if i % 3 == 0 { ALNUM } else { LETTERS }, len);
            format!("{label}.{}", tlds[i % tlds.len()])
        })
        .collect()
}

#[test]
fn benign_labels_rarely_look_generated_and_random_ones_usually_do() {
    let benign_high: Vec<(&str, u32)> = BENIGN_DOMAINS
        .iter()
        .filter(|d| !has_private_suffix(d))
        .map(|d| (*d, dga_score(registrable_label(registrable_domain(d).unwrap()))))
        .filter(|(_, s)| *s >= DGA_MIN_SCORE)
        .collect();
    assert!(benign_high.len() <= 1, "benign labels scored as generated: {benign_high:?}");
    let random = dga_domains(200, 7);
    let flagged = random.iter().filter(|d| dga_score(registrable_label(d)) >= DGA_MIN_SCORE).count();
    assert!(flagged >= 120, "only {flagged}/200 random labels flagged");
}

#[test]
fn an_instance_cycling_through_generated_domains_raises_dga_b_once() {
    let lines: Vec<String> = dga_domains(30, 42).iter().enumerate().map(|(i, d)| line(i as u32 * 5, d, "i-0dga")).collect();
    let found = feed(&mut DnsHeuristics::default(), &lines);
    assert_eq!(types(&found), [heuristics::DGA_B]);
    let f = &found[0].finding;
    assert_eq!(f.resource.as_ref().unwrap().instance_details.as_ref().unwrap().instance_id.as_deref(), Some("i-0dga"));
    let dns = f.service.as_ref().unwrap().action.as_ref().unwrap().dns_request_action.as_ref().unwrap();
    assert!(dga_domains(30, 42).contains(dns.domain.as_ref().unwrap()), "{dns:?}");
    assert_eq!(f.service.as_ref().unwrap().resource_role.as_deref(), Some("ACTOR"));
}

#[test]
fn a_few_generated_looking_names_are_not_enough() {
    let lines: Vec<String> = dga_domains(40, 42)
        .iter()
        .filter(|d| dga_score(registrable_label(d)) >= DGA_MIN_SCORE)
        .take(heuristics::DGA_MIN_DISTINCT_DOMAINS - 1)
        .flat_map(|d| (0..5).map(move |k| line(k * 7, d, "i-0few")))
        .collect();
    assert!(types(&feed(&mut DnsHeuristics::default(), &lines)).is_empty(), "repeats of 4 names");
}

/// Base32 chunks of a "file", 40 characters per query, as iodine/dnscat-style tunnels send.
fn exfil_names(n: usize, domain: &str) -> Vec<String> {
    let mut rng = Rng(99);
    (0..n).map(|i| format!("{}.{}.{i}.{domain}", rng.string(b"abcdefghijklmnopqrstuvwxyz234567", 40), rng.string(b"0123456789abcdef", 16))).collect()
}

#[test]
fn many_long_high_entropy_subdomains_of_one_domain_raise_exfiltration() {
    let lines: Vec<String> = exfil_names(80, "tunnel-vedette.net").iter().enumerate().map(|(i, n)| line(i as u32 * 3, n, "i-0exfil")).collect();
    let found = feed(&mut DnsHeuristics::default(), &lines);
    assert_eq!(types(&found), [heuristics::DNS_EXFILTRATION]);
    let dns = found[0].finding.service.as_ref().unwrap().action.as_ref().unwrap().dns_request_action.clone().unwrap();
    assert_eq!(dns.domain_with_suffix.as_deref(), Some("tunnel-vedette.net"));
    // The same names spread over windows far apart never reach the threshold in one window.
    let sparse: Vec<String> = exfil_names(80, "tunnel-vedette.net")
        .iter()
        .enumerate()
        .map(|(i, n)| line(0, n, "i-0exfil").replace("2024-03-01T10:00:00Z", &format!("2024-03-{:02}T10:00:00Z", 1 + i % 28)))
        .collect();
    assert!(types(&feed(&mut DnsHeuristics::default(), &sparse)).is_empty());
}

#[test]
fn benign_traffic_raises_nothing() {
    let mut rng = Rng(5);
    let mut lines = Vec::new();
    let mut t = 0;
    let mut push = |name: String, lines: &mut Vec<String>| {
        lines.push(line(t % 3600, &name, "i-0busy"));
        t += 1;
    };
    // A CDN-heavy client: hundreds of hashed CloudFront/Akamai/S3 host names.
    for _ in 0..300 {
        push(format!("d{}.cloudfront.net", rng.string(ALNUM, 13)), &mut lines);
        push(format!("e{}.a.akamaiedge.net", rng.string(b"0123456789", 5)), &mut lines);
        push(format!("{}.s3.us-east-1.amazonaws.com", rng.string(LETTERS, 10)), &mut lines);
    }
    // Software updates and AWS service endpoints.
    for region in ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2", "eu-central-1"] {
        for service in ["ec2", "s3", "sts", "ssm", "ec2messages", "ssmmessages", "logs", "monitoring", "kms", "secretsmanager"] {
            push(format!("{service}.{region}.amazonaws.com"), &mut lines);
        }
        push(format!("{region}.ec2.archive.ubuntu.com"), &mut lines);
    }
    for host in [
        "security.ubuntu.com",
        "archive.ubuntu.com",
        "deb.debian.org",
        "dl.fedoraproject.org",
        "pypi.org",
        "files.pythonhosted.org",
        "registry.npmjs.org",
        "index.crates.io",
        "static.crates.io",
        "download.docker.com",
        "production.cloudflare.docker.com",
        "ctldl.windowsupdate.com",
        "v10.events.data.microsoft.com",
        "settings-win.data.microsoft.com",
        "fe3cr.delivery.mp.microsoft.com",
    ] {
        push(host.to_owned(), &mut lines);
    }
    // Long, word-like names under one domain (a microservice mesh).
    for env in ["production", "staging", "development", "integration"] {
        for svc in [
            "customer-accounts-service",
            "payment-authorization-gateway",
            "inventory-synchronisation-worker",
            "notification-delivery-scheduler",
            "recommendation-engine-frontend",
        ] {
            push(format!("{svc}-{env}.internal-services.example.com"), &mut lines);
        }
    }
    for d in BENIGN_DOMAINS {
        push((*d).to_owned(), &mut lines);
        push(format!("www.{d}"), &mut lines);
    }
    let found = feed(&mut DnsHeuristics::default(), &lines);
    assert!(found.is_empty(), "{:?}", found.iter().map(|o| (o.finding.r#type.clone(), o.finding.description.clone())).collect::<Vec<_>>());
}

#[test]
fn state_round_trips_and_splitting_the_input_changes_nothing() {
    let mut lines: Vec<String> = dga_domains(30, 1).iter().enumerate().map(|(i, d)| line(i as u32, d, "i-0a")).collect();
    lines.extend(exfil_names(60, "tunnel-vedette.net").iter().enumerate().map(|(i, n)| line(i as u32, n, "i-0b")));
    let whole = types(&feed(&mut DnsHeuristics::default(), &lines));
    assert_eq!(whole.len(), 2, "{whole:?}");
    // In two files with a restart (state saved and loaded) in between, second half first.
    let (a, b) = lines.split_at(lines.len() / 2);
    let mut state = DnsHeuristics::default();
    let mut split = types(&feed(&mut state, b));
    let saved = serde_json::to_string(&state).unwrap();
    let mut restored: DnsHeuristics = serde_json::from_str(&saved).unwrap();
    assert_eq!(restored, state);
    split.extend(types(&feed(&mut restored, a)));
    split.sort();
    let mut whole_sorted = whole.clone();
    whole_sorted.sort();
    assert_eq!(split, whole_sorted);
    assert!(restored.dga.len() + restored.exfil.len() <= 2, "one window per key");
}

#[test]
fn state_stays_bounded_whatever_the_input() {
    let mut state = DnsHeuristics::default();
    // Many instances each with one generated name: windows per key, capped.
    let lines: Vec<String> = dga_domains(3000, 3).iter().enumerate().map(|(i, d)| line(0, d, &format!("i-{i}"))).collect();
    assert!(feed(&mut state, &lines).is_empty());
    let tracked = state.dga.len();
    assert!(tracked > 1000 && tracked <= heuristics::MAX_TRACKED_KEYS, "{tracked}");
    // Time moving on expires old windows.
    let later = line(0, "zzqxkvbnmwrtpl.com", "i-late").replace("2024-03-01", "2024-03-02");
    feed(&mut state, &[later]);
    assert_eq!(state.dga.len(), 1, "yesterday's windows expired");
}

/// Standard base64 (RFC 4648) without padding, enough for test payloads.
fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// The shape AWS's GuardDuty tester uses to raise this type: a text base64-encoded in 38-character
/// labels under one domain, the whole sequence queried 10 times (here our own text and domain;
/// `+` and `/` are not DNS characters, so they are dropped as tunnels do with a DNS-safe alphabet).
#[test]
fn a_base64_tunnel_repeated_ten_times_raises_exfiltration_once() {
    let text = "Vedette reads Route 53 Resolver query logs and raises GuardDuty findings for the instances \
                that ask. This paragraph stands for a file leaving the network one DNS label at a time, \
                encoded so that every label looks like noise and no two labels are the same. "
        .repeat(8);
    let encoded: String = base64(text.as_bytes()).chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let labels: Vec<&str> = encoded.as_bytes().chunks(38).map(|c| std::str::from_utf8(c).unwrap()).collect();
    let distinct: std::collections::BTreeSet<&&str> = labels.iter().collect();
    assert!(distinct.len() > heuristics::EXFIL_MIN_DISTINCT_SUBDOMAINS, "{}", distinct.len());
    let mut lines = Vec::new();
    for round in 0..10u32 {
        for (i, label) in labels.iter().enumerate() {
            lines.push(line(round * 30 + i as u32 % 30, &format!("{label}.exfil-vedette.com"), "i-0tunnel"));
        }
    }
    let found = feed(&mut DnsHeuristics::default(), &lines);
    assert_eq!(types(&found), [heuristics::DNS_EXFILTRATION]);
}
