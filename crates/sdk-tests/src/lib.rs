//! Harness for driving a real `vedette serve` process with the official Rust `aws-sdk-guardduty`.
//!
//! Finding the binary: `env!("CARGO_BIN_EXE_vedette")` exists only inside the `vedette` package,
//! so this crate looks for it, in order, at `$VEDETTE_BIN`, then beside this test executable's
//! profile directory (`<target>/<profile>/vedette`, since test executables live in
//! `<target>/<profile>/deps/`). `cargo build -p vedette` (which scripts/test.sh runs first) puts it
//! there. A missing binary fails the test with that instruction rather than silently skipping.
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;

pub const REGION: &str = "us-east-1";

/// One access key of the server's credentials file.
#[derive(Clone, Debug)]
pub struct Account {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub account_id: String,
}

impl Account {
    pub fn numbered(n: u32) -> Self {
        Account {
            access_key_id: format!("AKIASDKTEST{n:09}"),
            secret_access_key: format!("sdk-test-secret-{n}-{}", std::process::id()),
            account_id: format!("{:012}", 310_000_000_000u64 + u64::from(n)),
        }
    }
}

pub fn vedette_binary() -> PathBuf {
    if let Some(explicit) = std::env::var_os("VEDETTE_BIN") {
        let path = PathBuf::from(explicit);
        assert!(path.is_file(), "VEDETTE_BIN={} does not exist", path.display());
        return path;
    }
    let exe = std::env::current_exe().expect("current test executable");
    // <target>/<profile>/deps/<test> -> <target>/<profile>/vedette
    let profile_dir = exe.parent().and_then(Path::parent).expect("test executable in <target>/<profile>/deps");
    let candidate = profile_dir.join(format!("vedette{}", std::env::consts::EXE_SUFFIX));
    assert!(candidate.is_file(), "no vedette binary at {}: run `cargo build -p vedette` first (or set VEDETTE_BIN)", candidate.display());
    candidate
}

/// A `vedette serve` child process on a free loopback port, with its own data dir; killed on drop.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub accounts: Vec<Account>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Serves `accounts` (SigV4 against a credentials file).
    pub fn start(accounts: Vec<Account>) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let creds_path = dir.path().join("credentials.toml");
        let mut creds = std::fs::File::create(&creds_path).expect("credentials file");
        for a in &accounts {
            writeln!(
                creds,
                "[[credentials]]\naccess_key_id = \"{}\"\nsecret_access_key = \"{}\"\naccount_id = \"{}\"\n",
                a.access_key_id, a.secret_access_key, a.account_id
            )
            .expect("write credentials");
        }
        drop(creds);
        let log_path = dir.path().join("serve.log");
        let mut last_log = String::new();
        // A port found free can be taken before the server binds it: retry on another.
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let log = std::fs::File::create(&log_path).expect("log file");
            let mut child = Command::new(vedette_binary())
                .arg("serve")
                .arg("--data-dir")
                .arg(dir.path().join("data"))
                .arg("--listen")
                .arg(addr.to_string())
                .arg("--credentials")
                .arg(&creds_path)
                .arg("--auth")
                .arg("sigv4")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log handle"))
                .stderr(log)
                .spawn()
                .expect("spawn vedette serve");
            if wait_ready(&mut child, addr) {
                return Server { child, addr, accounts, _dir: dir };
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = std::fs::read_to_string(&log_path).unwrap_or_default();
        }
        panic!("vedette serve did not start; log:\n{last_log}");
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An SDK client exactly as a user would configure one: aws-config defaults, a custom endpoint.
    pub async fn client(&self, account: &Account) -> aws_sdk_guardduty::Client {
        self.client_with_secret(account, &account.secret_access_key).await
    }

    pub async fn client_with_secret(&self, account: &Account, secret: &str) -> aws_sdk_guardduty::Client {
        let credentials = Credentials::new(&account.access_key_id, secret, None, None, "vedette-sdk-tests");
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(self.endpoint())
            .credentials_provider(credentials)
            // Plain HTTP on loopback; no TLS stack compiled in.
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .load()
            .await;
        aws_sdk_guardduty::Client::new(&config)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_ready(child: &mut Child, addr: SocketAddr) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
