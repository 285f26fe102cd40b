//! One HTTP/1.1 exchange per connection (hyper's low-level client: no pool, no TLS).
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use crate::{CONNECT_TIMEOUT, RemoteError};

/// Error bodies are read only this far (S3 puts its error code near the start).
const ERROR_BODY_LIMIT: u64 = 64 * 1024;
const USER_AGENT: &str = concat!("vedette/", env!("CARGO_PKG_VERSION"));

pub(crate) struct Response {
    pub status: u16,
    /// The `Location` header of a redirect.
    pub location: Option<String>,
    /// For 2xx: the body (within the caller's limit); otherwise at most [`ERROR_BODY_LIMIT`]
    /// bytes of it, for error codes only.
    pub body: Vec<u8>,
}

pub(crate) fn get_request(authority: &str, path_and_query: &str) -> Result<Request<Full<Bytes>>, RemoteError> {
    Request::builder()
        .method("GET")
        .uri(path_and_query)
        .header("host", authority)
        .header("user-agent", USER_AGENT)
        .header("accept-encoding", "identity")
        .body(Full::new(Bytes::new()))
        .map_err(|e| RemoteError::InvalidLocation(format!("the request cannot be built: {e}")))
}

/// Sends `request` to `host:port` and reads the answer; a 2xx body longer than `max_bytes` is
/// [`RemoteError::TooLarge`] (checked against `Content-Length` first, then while streaming).
pub(crate) async fn send(host: &str, port: u16, request: Request<Full<Bytes>>, max_bytes: u64, what: &str) -> Result<Response, RemoteError> {
    let head = request.method() == hyper::Method::HEAD;
    let connect = tokio::net::TcpStream::connect((host, port));
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(RemoteError::Io(format!("cannot connect to {what}: {e}"))),
        Err(_) => return Err(RemoteError::Timeout(what.to_string())),
    };
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| RemoteError::Io(format!("HTTP handshake with {what} failed: {e}")))?;
    // The connection task ends when the exchange is over (or the future is dropped on timeout).
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let result = exchange(&mut sender, request, max_bytes, what, head).await;
    driver.abort();
    result
}

async fn exchange(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
    max_bytes: u64,
    what: &str,
    head: bool,
) -> Result<Response, RemoteError> {
    let response = sender.send_request(request).await.map_err(|e| RemoteError::Io(format!("{what}: {e}")))?;
    let status = response.status().as_u16();
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
    let success = (200..300).contains(&status);
    let limit = if success { max_bytes } else { ERROR_BODY_LIMIT };
    if head {
        return Ok(Response { status, location, body: Vec::new() });
    }
    let declared = response.headers().get("content-length").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if success && declared.is_some_and(|n| n > limit) {
        return Err(RemoteError::TooLarge { what: what.to_string(), limit });
    }
    let body = read_body(response.into_body(), limit, success, what).await?;
    Ok(Response { status, location, body })
}

/// Reads frames until the end; past `limit` a success is an error, an error body is cut.
async fn read_body(mut body: Incoming, limit: u64, success: bool, what: &str) -> Result<Vec<u8>, RemoteError> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| RemoteError::Io(format!("reading {what} failed: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        if out.len() as u64 + data.len() as u64 > limit {
            if success {
                return Err(RemoteError::TooLarge { what: what.to_string(), limit });
            }
            let room = limit as usize - out.len();
            out.extend_from_slice(&data[..room]);
            break;
        }
        out.extend_from_slice(&data);
    }
    Ok(out)
}
