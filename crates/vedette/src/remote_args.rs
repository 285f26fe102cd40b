//! `vedette serve` flags for what the server may read list files from (IPSet / ThreatIntelSet
//! locations) and the S3-compatible endpoint it reads from and publishes to.
use std::path::PathBuf;

use vedette_remote::{Remote, RemoteConfig, S3Endpoint};

#[derive(clap::Args, Debug, Clone)]
pub struct RemoteArgs {
    /// Directory that `file://` list locations may point into (repeatable). Paths are
    /// canonicalised: `..` and symlinks leading out of every such directory are refused.
    #[arg(long = "intel-dir", value_name = "DIR")]
    pub intel_dirs: Vec<PathBuf>,
    /// Host that `http://` list locations may name (repeatable): HOST allows any port on it,
    /// HOST:PORT (or [IPv6]:PORT) only that port. This build has no TLS: `https://` locations
    /// are refused.
    #[arg(long = "allow-host", value_name = "HOST[:PORT]")]
    pub allow_hosts: Vec<String>,
    /// S3-compatible endpoint (http://HOST:PORT) for `s3://` and `https://s3…amazonaws.com/…`
    /// list locations and for S3 publishing destinations. Without it those are refused.
    #[arg(long, value_name = "URL", env = "VEDETTE_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// Region S3 requests are signed for.
    #[arg(long, value_name = "REGION", env = "VEDETTE_S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,
    /// Address buckets as ENDPOINT/BUCKET/KEY (true) or BUCKET.ENDPOINT-HOST/KEY (false).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub s3_path_style: bool,
    /// Access key id for the S3 endpoint.
    #[arg(long, value_name = "ID", env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    pub s3_access_key_id: Option<String>,
    /// Secret access key for the S3 endpoint.
    #[arg(long, value_name = "SECRET", env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,
}

impl RemoteArgs {
    pub fn config(&self) -> Result<RemoteConfig, String> {
        let s3 = match &self.s3_endpoint {
            None => None,
            Some(endpoint) => {
                let (Some(access_key_id), Some(secret_access_key)) = (&self.s3_access_key_id, &self.s3_secret_access_key) else {
                    return Err("--s3-endpoint needs credentials: --s3-access-key-id and --s3-secret-access-key \
                                (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
                        .into());
                };
                Some(S3Endpoint {
                    endpoint: endpoint.clone(),
                    region: self.s3_region.clone(),
                    access_key_id: access_key_id.clone(),
                    secret_access_key: secret_access_key.clone(),
                    path_style: self.s3_path_style,
                })
            }
        };
        Ok(RemoteConfig { intel_dirs: self.intel_dirs.clone(), allowed_hosts: self.allow_hosts.clone(), s3 })
    }

    /// The client, with the configuration checked (intel dirs exist, hosts and endpoint parse).
    pub fn remote(&self) -> Result<Remote, String> {
        Remote::new(self.config()?).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        remote: RemoteArgs,
    }

    fn parse(args: &[&str]) -> RemoteArgs {
        Cli::try_parse_from(std::iter::once("vedette").chain(args.iter().copied())).unwrap().remote
    }

    #[test]
    fn repeatable_flags_and_path_style_default() {
        let a = parse(&["--intel-dir", "/a", "--intel-dir", "/b", "--allow-host", "h:80", "--allow-host", "g"]);
        assert_eq!(a.intel_dirs, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(a.allow_hosts, vec!["h:80".to_string(), "g".to_string()]);
        assert!(a.s3_path_style);
        assert!(!parse(&["--s3-path-style", "false"]).s3_path_style);
        assert!(parse(&["--s3-path-style"]).s3_path_style);
    }

    #[test]
    fn s3_needs_credentials() {
        let without = RemoteArgs { s3_access_key_id: None, s3_secret_access_key: None, ..parse(&["--s3-endpoint", "http://127.0.0.1:9"]) };
        assert!(without.config().unwrap_err().contains("credentials"));
        let with =
            parse(&["--s3-endpoint", "http://127.0.0.1:9", "--s3-access-key-id", "AKID", "--s3-secret-access-key", "s", "--s3-region", "eu-west-1"]);
        let s3 = with.config().unwrap().s3.unwrap();
        assert_eq!((s3.region.as_str(), s3.access_key_id.as_str(), s3.path_style), ("eu-west-1", "AKID", true));
        assert!(with.remote().is_ok());
    }

    #[test]
    fn a_missing_intel_dir_is_a_start_up_error() {
        let err = parse(&["--intel-dir", "/nonexistent/vedette-intel-dir"]).remote().unwrap_err();
        assert!(err.contains("/nonexistent/vedette-intel-dir"), "{err}");
    }
}
