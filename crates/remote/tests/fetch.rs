//! Fetching under the policy: real files (with symlinks) in temp dirs, and a raw HTTP server on
//! 127.0.0.1:0 answering canned responses.
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use vedette_remote::{Location, Remote, RemoteConfig, RemoteError};

fn file_remote(dir: &Path) -> Remote {
    Remote::new(RemoteConfig { intel_dirs: vec![dir.to_path_buf()], ..Default::default() }).unwrap()
}

fn file_location(path: &Path) -> Location {
    Location::parse(&format!("file://{}", path.display())).unwrap()
}

#[tokio::test]
async fn files_inside_an_intel_dir_are_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/list.txt"), "198.51.100.7\n").unwrap();
    let remote = file_remote(dir.path());
    let location = file_location(&dir.path().join("sub/list.txt"));
    remote.check(&location).unwrap();
    assert_eq!(remote.fetch(&location, 1024).await.unwrap(), b"198.51.100.7\n");
    // A symlink that stays inside is fine.
    symlink(dir.path().join("sub/list.txt"), dir.path().join("alias.txt")).unwrap();
    assert_eq!(remote.fetch(&file_location(&dir.path().join("alias.txt")), 1024).await.unwrap(), b"198.51.100.7\n");
}

#[tokio::test]
async fn files_outside_escapes_and_symlinks_out_are_refused_without_reading() {
    let root = tempfile::tempdir().unwrap();
    let intel = root.path().join("intel");
    std::fs::create_dir(&intel).unwrap();
    let secret = root.path().join("secret.txt");
    std::fs::write(&secret, "TOP-SECRET-CONTENT\n").unwrap();
    symlink(&secret, intel.join("link.txt")).unwrap();
    symlink(root.path(), intel.join("dirlink")).unwrap();
    let remote = file_remote(&intel);

    let cases = [
        format!("file://{}", secret.display()),
        format!("file://{}/../secret.txt", intel.display()),
        format!("file://{}/link.txt", intel.display()),
        format!("file://{}/dirlink/secret.txt", intel.display()),
        format!("file://{}", intel.display()),
        "file:///etc/passwd".to_string(),
    ];
    for case in cases {
        let location = Location::parse(&case).unwrap();
        let checked = remote.check(&location).unwrap_err();
        assert!(checked.is_rejected_location(), "{case}: {checked}");
        let fetched = remote.fetch(&location, 1 << 20).await.unwrap_err();
        assert!(fetched.is_rejected_location(), "{case}: {fetched}");
        assert!(!fetched.to_string().contains("TOP-SECRET"), "{fetched}");
    }
}

#[tokio::test]
async fn file_locations_need_an_intel_dir() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("l.txt"), "x").unwrap();
    let err = Remote::disabled().check(&file_location(&dir.path().join("l.txt"))).unwrap_err();
    assert!(matches!(err, RemoteError::NotAllowed(ref m) if m.contains("--intel-dir")), "{err}");
}

#[tokio::test]
async fn missing_files_pass_the_check_but_are_not_found_when_read() {
    let dir = tempfile::tempdir().unwrap();
    let remote = file_remote(dir.path());
    let location = file_location(&dir.path().join("later.txt"));
    remote.check(&location).unwrap();
    assert!(matches!(remote.fetch(&location, 10).await, Err(RemoteError::NotFound(_))));
}

#[tokio::test]
async fn oversized_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big.txt"), vec![b'1'; 101]).unwrap();
    let remote = file_remote(dir.path());
    let location = file_location(&dir.path().join("big.txt"));
    assert!(matches!(remote.fetch(&location, 100).await, Err(RemoteError::TooLarge { limit: 100, .. })));
    assert_eq!(remote.fetch(&location, 101).await.unwrap().len(), 101);
}

/// Serves one canned response per connection (the whole raw HTTP response), forever.
async fn serve(responses: Vec<Vec<u8>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        for response in responses.into_iter().cycle() {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = stream.write_all(&response).await;
            let _ = stream.shutdown().await;
        }
    });
    port
}

fn ok(body: &[u8], content_length: bool) -> Vec<u8> {
    let mut r = b"HTTP/1.1 200 OK\r\nconnection: close\r\n".to_vec();
    if content_length {
        r.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    r.extend_from_slice(b"\r\n");
    r.extend_from_slice(body);
    r
}

fn http_remote(hosts: &[String]) -> Remote {
    Remote::new(RemoteConfig { allowed_hosts: hosts.to_vec(), ..Default::default() }).unwrap()
}

#[tokio::test]
async fn http_lists_are_fetched_from_allowed_hosts_only() {
    let port = serve(vec![ok(b"203.0.113.9\n", true)]).await;
    let location = Location::parse(&format!("http://127.0.0.1:{port}/list.txt")).unwrap();
    let allowed = http_remote(&[format!("127.0.0.1:{port}")]);
    assert_eq!(allowed.fetch(&location, 1024).await.unwrap(), b"203.0.113.9\n");
    assert_eq!(http_remote(&["127.0.0.1".into()]).fetch(&location, 1024).await.unwrap(), b"203.0.113.9\n");
    let refused = http_remote(&[format!("127.0.0.1:{}", port.wrapping_add(1))]).fetch(&location, 1024).await;
    assert!(matches!(refused, Err(RemoteError::NotAllowed(_))), "{refused:?}");
}

#[tokio::test]
async fn http_size_limit_holds_with_and_without_content_length() {
    let body = vec![b'7'; 5000];
    let port = serve(vec![ok(&body, true), ok(&body, false)]).await;
    let remote = http_remote(&["127.0.0.1".into()]);
    let location = Location::parse(&format!("http://127.0.0.1:{port}/big")).unwrap();
    for _ in 0..2 {
        assert!(matches!(remote.fetch(&location, 4999).await, Err(RemoteError::TooLarge { limit: 4999, .. })));
    }
    assert_eq!(remote.fetch(&location, 5000).await.unwrap().len(), 5000);
}

#[tokio::test]
async fn http_errors_never_echo_the_body() {
    let body = b"SECRET-ERROR-PAGE";
    let mut not_found = format!("HTTP/1.1 404 Not Found\r\ncontent-length: {}\r\n\r\n", body.len()).into_bytes();
    not_found.extend_from_slice(body);
    let mut forbidden = format!("HTTP/1.1 403 Forbidden\r\ncontent-length: {}\r\n\r\n", body.len()).into_bytes();
    forbidden.extend_from_slice(body);
    let port = serve(vec![not_found, forbidden]).await;
    let remote = http_remote(&["127.0.0.1".into()]);
    let location = Location::parse(&format!("http://127.0.0.1:{port}/x")).unwrap();
    let first = remote.fetch(&location, 1024).await.unwrap_err();
    assert!(matches!(first, RemoteError::NotFound(_)), "{first}");
    let second = remote.fetch(&location, 1024).await.unwrap_err();
    assert_eq!(second.status(), Some(403));
    for e in [first, second] {
        assert!(!e.to_string().contains("SECRET"), "{e}");
    }
}

#[tokio::test]
async fn redirects_are_followed_only_to_allowed_hosts() {
    let target = serve(vec![ok(b"192.0.2.1\n", true)]).await;
    let redirect = |to: String| format!("HTTP/1.1 302 Found\r\nlocation: {to}\r\ncontent-length: 0\r\n\r\n").into_bytes();
    let port = serve(vec![redirect(format!("http://127.0.0.1:{target}/final")), redirect("http://blocked.example/x".into())]).await;
    let remote = http_remote(&["127.0.0.1".into()]);
    let location = Location::parse(&format!("http://127.0.0.1:{port}/start")).unwrap();
    assert_eq!(remote.fetch(&location, 1024).await.unwrap(), b"192.0.2.1\n");
    assert!(matches!(remote.fetch(&location, 1024).await, Err(RemoteError::NotAllowed(_))));
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts and holds connections without answering.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let remote = http_remote(&["127.0.0.1".into()]).with_timeout(Duration::from_millis(300));
    let location = Location::parse(&format!("http://127.0.0.1:{port}/x")).unwrap();
    let started = std::time::Instant::now();
    assert!(matches!(remote.fetch(&location, 1024).await, Err(RemoteError::Timeout(_))));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn s3_without_an_endpoint_is_refused_for_fetch_put_and_head() {
    let remote = Remote::disabled();
    let location = Location::parse("s3://bucket/key").unwrap();
    assert!(remote.fetch(&location, 10).await.unwrap_err().is_rejected_location());
    assert!(remote.s3_put_object("bucket", "k", b"x".to_vec(), "text/plain", None).await.unwrap_err().is_rejected_location());
    assert!(remote.s3_head_bucket("bucket").await.unwrap_err().is_rejected_location());
}
