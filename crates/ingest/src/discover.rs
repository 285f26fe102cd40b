//! Which sources a list of paths names: files as given, directories walked recursively (an
//! `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/` tree or any other layout), `-` for stdin.
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceInput {
    File { path: PathBuf, size: u64 },
    Stdin,
}

impl SourceInput {
    /// How the source is named in reports and evidence (`path` or `stdin`).
    pub fn display_name(&self) -> String {
        match self {
            SourceInput::File { path, .. } => path.display().to_string(),
            SourceInput::Stdin => "stdin".into(),
        }
    }
}

/// A path that could not be listed or read: reported, not fatal.
#[derive(Debug, Clone)]
pub struct DiscoverProblem {
    pub path: PathBuf,
    pub message: String,
}

/// CloudTrail also delivers digest files (integrity validation), under `CloudTrail-Digest/` and
/// named `…_CloudTrail-Digest_…json.gz`: they hold no events.
pub fn is_digest(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str().to_string_lossy().contains("CloudTrail-Digest"))
}

/// Log file names a directory walk picks up, plain or gzipped: CloudTrail's `.json`, JSON lines,
/// the `.log` objects VPC flow logs and Resolver query logs deliver to S3, and the numbered
/// `000000.gz` objects a CloudWatch Logs export task writes. The content, not the name, decides
/// how a file is read. Explicitly named files are read whatever their name.
fn looks_like_log(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    if name.starts_with('.') {
        return false;
    }
    if let Some(stem) = name.strip_suffix(".gz")
        && !stem.is_empty()
        && stem.bytes().all(|b| b.is_ascii_digit())
    {
        return true;
    }
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    [".json", ".jsonl", ".ndjson", ".log"].iter().any(|ext| name.ends_with(ext))
}

/// The Region in a flow-log object's S3 delivery key, `…/AWSLogs/<account>/vpcflowlogs/<region>/…`
/// (with or without an `aws-account-id=`-style Hive prefix it is the segment after
/// `vpcflowlogs`), when the path has that shape: default-format records carry no Region.
pub fn flow_delivery_region(path: &Path) -> Option<String> {
    let parts: Vec<String> = path.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    let at = parts.iter().rposition(|p| p == "vpcflowlogs")?;
    let account = parts.get(at.checked_sub(1)?)?;
    let region = parts.get(at + 1)?;
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    // The last segment is the object itself: a Region is a directory.
    let region_ok =
        at + 2 < parts.len() && region.split('-').count() >= 3 && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    (account_ok && region_ok && parts.get(at.checked_sub(2)?).is_some_and(|p| p == "AWSLogs")).then(|| region.clone())
}

/// Expands `paths` into sources, in a stable order (directory entries sorted by name).
pub fn discover(paths: &[PathBuf]) -> (Vec<SourceInput>, Vec<DiscoverProblem>, u64) {
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    let mut digests = 0;
    for path in paths {
        if path.as_os_str() == "-" {
            sources.push(SourceInput::Stdin);
            continue;
        }
        walk(path, true, &mut sources, &mut problems, &mut digests);
    }
    // A file named twice (`ingest DIR DIR/x.json`) is one source: read once.
    let mut seen = std::collections::HashSet::new();
    sources.retain(|s| match s {
        SourceInput::File { path, .. } => seen.insert(path.clone()),
        SourceInput::Stdin => true,
    });
    (sources, problems, digests)
}

fn walk(path: &Path, explicit: bool, sources: &mut Vec<SourceInput>, problems: &mut Vec<DiscoverProblem>, digests: &mut u64) {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            problems.push(DiscoverProblem { path: path.to_owned(), message: e.to_string() });
            return;
        }
    };
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => {
                problems.push(DiscoverProblem { path: path.to_owned(), message: e.to_string() });
                return;
            }
        };
        entries.sort();
        for entry in entries {
            walk(&entry, false, sources, problems, digests);
        }
    } else if is_digest(path) {
        *digests += 1;
    } else if explicit || looks_like_log(path) {
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        sources.push(SourceInput::File { path, size: meta.len() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_an_awslogs_tree_skipping_digests_and_strangers() {
        let dir = tempfile::tempdir().unwrap();
        let day = dir.path().join("AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01");
        let digest = dir.path().join("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/03/01");
        std::fs::create_dir_all(&day).unwrap();
        std::fs::create_dir_all(&digest).unwrap();
        for name in ["b_CloudTrail_us-east-1_x.json.gz", "a_CloudTrail_us-east-1_y.json", "notes.txt", ".hidden.json"] {
            std::fs::write(day.join(name), b"{}").unwrap();
        }
        std::fs::write(digest.join("111122223333_CloudTrail-Digest_us-east-1_z.json.gz"), b"{}").unwrap();
        let named_again = day.join("a_CloudTrail_us-east-1_y.json");
        let (sources, problems, digests) = discover(&[dir.path().to_owned(), "-".into(), dir.path().join("missing"), named_again]);
        let names: Vec<String> = sources
            .iter()
            .map(|s| match s {
                SourceInput::File { path, .. } => path.file_name().unwrap().to_string_lossy().into_owned(),
                SourceInput::Stdin => "-".into(),
            })
            .collect();
        assert_eq!(names, ["a_CloudTrail_us-east-1_y.json", "b_CloudTrail_us-east-1_x.json.gz", "-"]);
        assert_eq!(digests, 1);
        assert_eq!(problems.len(), 1);
    }

    /// Flow logs and query logs as delivered to S3, and a CloudWatch Logs export task's objects
    /// (with the permission-check object it leaves beside them).
    #[test]
    fn walks_flow_log_query_log_and_cloudwatch_export_trees() {
        let dir = tempfile::tempdir().unwrap();
        let flow = dir.path().join("AWSLogs/111122223333/vpcflowlogs/us-east-1/2024/03/01");
        let dns = dir.path().join("AWSLogs/111122223333/vpcdnsquerylogs/vpc-0abc/2024/03/01");
        let export = dir.path().join("exportedlogs/0c1a2b3c-task/eni-0a1b2c3d-all");
        for d in [&flow, &dns, &export] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(flow.join("111122223333_vpcflowlogs_us-east-1_fl-0a1b_20240301T1000Z_1a2b3c4d.log.gz"), b"").unwrap();
        std::fs::write(dns.join("111122223333_vpcdnsquerylogs_vpc-0abc_20240301T1000Z_5e6f7a8b.log.gz"), b"").unwrap();
        std::fs::write(export.join("000000.gz"), b"").unwrap();
        std::fs::write(export.join("000001.gz"), b"").unwrap();
        std::fs::write(dir.path().join("exportedlogs/aws-logs-write-test"), b"Permission Check Successful").unwrap();
        std::fs::write(export.join("notes.gz"), b"").unwrap();
        let (sources, problems, _) = discover(&[dir.path().to_owned()]);
        let mut names: Vec<String> = sources
            .iter()
            .map(|s| match s {
                SourceInput::File { path, .. } => path.file_name().unwrap().to_string_lossy().into_owned(),
                SourceInput::Stdin => "-".into(),
            })
            .collect();
        names.sort();
        let flow_object = flow.join("111122223333_vpcflowlogs_us-east-1_fl-0a1b_20240301T1000Z_1a2b3c4d.log.gz");
        assert_eq!(flow_delivery_region(&flow_object).as_deref(), Some("us-east-1"));
        assert_eq!(flow_delivery_region(&dns.join("x.log.gz")), None);
        assert_eq!(flow_delivery_region(Path::new("/logs/vpcflowlogs/us-east-1/x.log")), None, "no AWSLogs/<account>");
        assert_eq!(flow_delivery_region(Path::new("/AWSLogs/111122223333/vpcflowlogs/us-east-1")), None, "the object, not a directory");
        assert_eq!(
            names,
            [
                "000000.gz",
                "000001.gz",
                "111122223333_vpcdnsquerylogs_vpc-0abc_20240301T1000Z_5e6f7a8b.log.gz",
                "111122223333_vpcflowlogs_us-east-1_fl-0a1b_20240301T1000Z_1a2b3c4d.log.gz",
            ]
        );
        assert!(problems.is_empty());
    }
}
