//! The charm's HTTPS calls to Prometheus once it serves TLS (the reload), over rustls with the
//! `ring` provider, trusting only the CA of the served certificate and checking that the
//! certificate names the unit's FQDN, while connecting to the address the charm always uses
//! (`localhost:9090` in the pod).
//!
//! A plain HTTP/1.1 exchange on a rustls stream: reqwest is built without TLS (its rustls
//! backend would need a process-wide crypto provider for every client of the binary).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName};

use crate::core::desired_workload::WebTls;
use crate::effects::report::ApplyError;

/// Why an HTTPS request did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum HttpsError {
    /// Nothing listens, or the connection timed out: Prometheus is not up (yet).
    #[error("cannot connect to {0}")]
    Connect(String),
    /// The base URL or the CA cannot be used.
    #[error("{0}")]
    Setup(String),
    /// The TLS handshake or the exchange failed (a certificate not trusted, not for the name).
    #[error("TLS exchange with Prometheus failed: {0}")]
    Tls(String),
}

/// An HTTP answer: status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Body (lossy UTF-8).
    pub body: String,
}

/// A rustls client configuration trusting exactly the certificates of `ca_pem`.
pub fn client_config(ca_pem: &str) -> Result<rustls::ClientConfig, HttpsError> {
    let mut roots = rustls::RootCertStore::empty();
    let ders = charm_interfaces::tls_certificates::certificates_in(ca_pem, "ca")
        .map_err(|e| HttpsError::Setup(e.to_string()))?;
    for der in ders {
        roots
            .add(CertificateDer::from(der))
            .map_err(|e| HttpsError::Setup(format!("CA not usable: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpsError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// `method path` over HTTPS to the host and port of `base_url`, verifying the server's
/// certificate for `tls.server_name` against `tls.ca`.
pub fn request(
    base_url: &str,
    tls: &WebTls,
    method: &str,
    path: &str,
    timeout: Duration,
) -> Result<Answer, HttpsError> {
    let url =
        reqwest::Url::parse(base_url).map_err(|e| HttpsError::Setup(format!("{base_url}: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| HttpsError::Setup(format!("{base_url}: no host")))?;
    let port = url.port_or_known_default().unwrap_or(9090);
    let target = format!("{host}:{port}");
    let addr = target
        .to_socket_addrs()
        .map_err(|e| HttpsError::Connect(format!("{target}: {e}")))?
        .next()
        .ok_or_else(|| HttpsError::Connect(format!("{target}: no address")))?;
    let mut tcp = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| HttpsError::Connect(format!("{target}: {e}")))?;
    tcp.set_read_timeout(Some(timeout)).ok();
    tcp.set_write_timeout(Some(timeout)).ok();
    let name = ServerName::try_from(tls.server_name.clone())
        .map_err(|e| HttpsError::Setup(format!("{}: {e}", tls.server_name)))?;
    let conn = rustls::ClientConnection::new(Arc::new(client_config(&tls.ca)?), name)
        .map_err(|e| HttpsError::Tls(e.to_string()))?;
    let mut stream = rustls::StreamOwned::new(conn, &mut tcp);
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        tls.server_name
    );
    stream
        .write_all(head.as_bytes())
        .map_err(|e| HttpsError::Tls(e.to_string()))?;
    let mut raw = Vec::new();
    match stream.read_to_end(&mut raw) {
        Ok(_) => {}
        // Servers that close without close_notify: what was read is the answer.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(HttpsError::Tls(e.to_string())),
    }
    parse_answer(&raw).ok_or_else(|| HttpsError::Tls("no HTTP answer".into()))
}

/// Status and body of an HTTP/1.1 answer (a chunked body is put together).
fn parse_answer(raw: &[u8]) -> Option<Answer> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .lines()
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_owned()
    };
    Some(Answer { status, body })
}

/// A chunked body's content.
fn dechunk(mut rest: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n")?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(after.get(..size)?);
        rest = after.get(size..)?.strip_prefix("\r\n")?;
    }
}

/// `POST /-/reload` over HTTPS: Prometheus answers 200 on success, 500 with the reason.
pub fn reload_prometheus_tls(
    base_url: &str,
    tls: &WebTls,
    timeout: Duration,
) -> Result<(), ApplyError> {
    match request(base_url, tls, "POST", "/-/reload", timeout) {
        Ok(a) if (200..300).contains(&a.status) => Ok(()),
        Ok(a) => Err(ApplyError::ReloadFailed(format!(
            "HTTP {}: {}",
            a.status,
            a.body.trim()
        ))),
        Err(HttpsError::Connect(e)) => Err(ApplyError::NotReady(e)),
        Err(e) => Err(ApplyError::ReloadFailed(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_answer;

    #[test]
    fn answers_are_parsed_by_status_line() {
        let a = parse_answer(b"HTTP/1.1 500 Internal Server Error\r\nX: y\r\n\r\nfailed").unwrap();
        assert_eq!((a.status, a.body.as_str()), (500, "failed"));
        assert_eq!(
            parse_answer(b"HTTP/1.1 200 OK\r\n\r\n").unwrap().status,
            200
        );
        assert!(parse_answer(b"garbage").is_none());
        let chunked = parse_answer(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(chunked.body, "abcde");
    }
}
