//! Shared pieces of Vedette's benchmarks: a seeded RNG (so generated data is byte-for-byte
//! reproducible across machines and crate upgrades), a small JSON writer that keeps CloudTrail's
//! own key order, file walking, peak-memory readers, latency statistics and SigV4 signing.
use std::path::{Path, PathBuf};

pub mod sigv4;

/// xoshiro256** seeded through SplitMix64: written out here, not taken from `rand`, so that the
/// generated corpus never changes with a dependency upgrade.
#[derive(Clone)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng { s: [next(), next(), next(), next()] }
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (n > 0); the tiny modulo bias is irrelevant here.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn range(&mut self, lo: u64, hi_inclusive: u64) -> u64 {
        lo + self.below(hi_inclusive - lo + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Index chosen with the given relative weights.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|w| *w as u64).sum();
        let mut x = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if x < *w as u64 {
                return i;
            }
            x -= *w as u64;
        }
        weights.len() - 1
    }

    pub fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff, ((b >> 48) & 0x3fff) | 0x8000, b & 0xffff_ffff_ffff)
    }

    /// `n` characters from `alphabet`.
    pub fn chars(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n).map(|_| *self.pick(alphabet) as char).collect()
    }

    pub fn hex(&mut self, n: usize) -> String {
        self.chars(b"0123456789abcdef", n)
    }
}

pub const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
pub const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A compact JSON writer that emits keys in the order they are written (CloudTrail's order),
/// escaping through serde_json so every string is valid JSON.
#[derive(Default)]
pub struct Json {
    pub buf: String,
    /// One entry per open object/array: has it got a member yet?
    nonempty: Vec<bool>,
}

impl Json {
    pub fn new() -> Json {
        Json::default()
    }

    fn sep(&mut self) {
        if let Some(last) = self.nonempty.last_mut() {
            if *last {
                self.buf.push(',');
            }
            *last = true;
        }
    }

    fn key(&mut self, key: &str) {
        self.sep();
        self.buf.push('"');
        self.buf.push_str(key);
        self.buf.push_str("\":");
    }

    fn string_value(&mut self, value: &str) {
        if value.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
            self.buf.push('"');
            self.buf.push_str(value);
            self.buf.push('"');
        } else {
            self.buf.push_str(&serde_json::to_string(value).expect("string serializes"));
        }
    }

    pub fn begin(&mut self) -> &mut Self {
        self.sep();
        self.buf.push('{');
        self.nonempty.push(false);
        self
    }

    pub fn end(&mut self) -> &mut Self {
        self.nonempty.pop();
        self.buf.push('}');
        self
    }

    pub fn obj(&mut self, key: &str) -> &mut Self {
        self.key(key);
        self.buf.push('{');
        self.nonempty.push(false);
        self
    }

    pub fn arr(&mut self, key: &str) -> &mut Self {
        self.key(key);
        self.buf.push('[');
        self.nonempty.push(false);
        self
    }

    pub fn end_arr(&mut self) -> &mut Self {
        self.nonempty.pop();
        self.buf.push(']');
        self
    }

    /// An array element that is a string.
    pub fn item(&mut self, value: &str) -> &mut Self {
        self.sep();
        self.string_value(value);
        self
    }

    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        self.string_value(value);
        self
    }

    pub fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key);
        self.buf.push_str(if value { "true" } else { "false" });
        self
    }

    pub fn num(&mut self, key: &str, value: i64) -> &mut Self {
        self.key(key);
        self.buf.push_str(&value.to_string());
        self
    }

    pub fn null(&mut self, key: &str) -> &mut Self {
        self.key(key);
        self.buf.push_str("null");
        self
    }

    /// A member whose value is already JSON text.
    pub fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        self.key(key);
        self.buf.push_str(json);
        self
    }

    pub fn take(&mut self) -> String {
        self.nonempty.clear();
        std::mem::take(&mut self.buf)
    }
}

/// Every `.json.gz` / `.json` file under `paths` (files are taken as given), sorted so that runs
/// see the same order.
pub fn log_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if is_log(&path) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out);
        } else {
            out.push(p.clone());
        }
    }
    out.sort();
    out
}

fn is_log(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    (name.ends_with(".json.gz") || name.ends_with(".json")) && !name.contains("CloudTrail-Digest") && name != "manifest.json"
}

/// Peak resident set size of this process in KiB (VmHWM).
pub fn own_peak_rss_kib() -> Option<u64> {
    peak_rss_kib_of("self")
}

/// Peak resident set size of a process in KiB (`/proc/<pid>/status` VmHWM).
pub fn peak_rss_kib_of(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok())
}

/// Latency percentiles over microsecond samples (sorted in place).
pub fn percentile_us(samples: &mut [u64], pct: f64) -> u64 {
    if samples.is_empty() {
        return 0;
    }
    samples.sort_unstable();
    let rank = ((pct / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}
