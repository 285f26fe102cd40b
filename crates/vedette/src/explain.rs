//! `vedette explain FINDING_ID`: what produced a finding (rule, CloudTrail events, source files),
//! read from the evidence every detected finding carries in `service.additionalInfo`.
use vedette_domain::{Evidence, model};
use vedette_store::{SqliteStore, Store};

use crate::{CliResult, DataDirArg};

#[derive(clap::Args, Debug)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    /// The finding id (as ListFindings / GetFindings show it).
    #[arg(value_name = "FINDING_ID")]
    pub finding_id: String,
}

pub fn run(args: ExplainArgs) -> CliResult {
    let data_dir = &args.data.data_dir;
    let store = SqliteStore::open(data_dir).map_err(|e| format!("cannot open the store in {}: {e}", data_dir.display()))?;
    let Some((detector_id, finding)) = store.find_finding(&args.finding_id)? else {
        return Err(format!("no finding {} in {}", args.finding_id, data_dir.display()).into());
    };
    // Write errors (a closed pipe) are ignored rather than panicking.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), explain(&detector_id, &finding).as_bytes());
    Ok(std::process::ExitCode::SUCCESS)
}

fn explain(detector_id: &str, f: &model::Finding) -> String {
    use std::fmt::Write;
    let or_dash = |s: Option<&str>| s.unwrap_or("-").to_owned();
    let service = f.service.clone().unwrap_or_default();
    let api = service.action.as_ref().and_then(|a| a.aws_api_call_action.clone()).unwrap_or_default();
    let resource = f.resource.clone().unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(out, "finding     {}", or_dash(f.id.as_deref()));
    let _ = writeln!(out, "type        {} (severity {})", or_dash(f.r#type.as_deref()), f.severity.map(|s| format!("{s:.1}")).unwrap_or("-".into()));
    let _ = writeln!(out, "title       {}", or_dash(f.title.as_deref()));
    let _ = writeln!(out, "detector    {detector_id} (account {}, {})", or_dash(f.account_id.as_deref()), or_dash(f.region.as_deref()));
    if let Some(key) = &resource.access_key_details {
        let _ = writeln!(
            out,
            "resource    {} access key {} (principal {}, user {}, {})",
            or_dash(resource.resource_type.as_deref()),
            or_dash(key.access_key_id.as_deref()),
            or_dash(key.principal_id.as_deref()),
            or_dash(key.user_name.as_deref()),
            or_dash(key.user_type.as_deref()),
        );
    }
    for bucket in resource.s3_bucket_details.iter().flatten() {
        let _ = writeln!(out, "bucket      {}", or_dash(bucket.name.as_deref()));
    }
    let _ = writeln!(
        out,
        "api         {} ({}){}",
        or_dash(api.api.as_deref()),
        or_dash(api.service_name.as_deref()),
        api.error_code.as_deref().map(|c| format!(", failed: {c}")).unwrap_or_default()
    );
    let _ = writeln!(out, "count       {}", service.count.unwrap_or(1));
    let _ = writeln!(out, "first seen  {}", or_dash(service.event_first_seen.as_deref()));
    let _ = writeln!(out, "last seen   {}", or_dash(service.event_last_seen.as_deref()));
    let _ = writeln!(out, "archived    {}", service.archived.unwrap_or(false));
    match Evidence::from_finding(f) {
        Some(evidence) => {
            let _ = writeln!(out, "rule        {}", evidence.rule);
            let _ = writeln!(out, "events      (latest {}, oldest first)", evidence.event_ids.len());
            for (i, id) in evidence.event_ids.iter().enumerate() {
                let time = evidence.event_times_ms.get(i).map(|t| vedette_domain::time::iso_ms(*t)).unwrap_or_default();
                let source = evidence.sources.get(i).map(String::as_str).unwrap_or("-");
                let _ = writeln!(out, "  {time}  {id}  {source}");
            }
        }
        None => {
            let _ = writeln!(out, "rule        - (no evidence recorded: not raised from logs, e.g. a sample finding)");
        }
    }
    out
}
