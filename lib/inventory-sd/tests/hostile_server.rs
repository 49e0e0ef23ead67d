//! An inventory server that lies or redirects, answered byte by byte on loopback.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::config;
use inventory_sd::fetch::{FetchError, Fetcher};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves `answer` to every connection and keeps each request's head.
async fn raw_server(ip: &str, answer: String) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind((ip, 0)).await.expect("bind");
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&head).into_owned());
            let _ = sock.write_all(answer.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    (format!("http://{addr}"), seen)
}

/// Log lines written while the closure's future runs (current-thread runtime).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_redirect_to_another_host_gets_no_referer_and_is_logged() {
    let body = r#"["a"]"#;
    let (target, target_seen) = raw_server(
        "127.0.0.2",
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    let (origin, _) = raw_server(
        "127.0.0.1",
        format!(
            "HTTP/1.1 302 Found\r\nLocation: {target}/elsewhere\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&format!("{origin}/hosts?token=s3cret"), dir.path());

    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let got = Fetcher::new(&cfg).fetch().await.expect("followed");
    assert_eq!(got, body.as_bytes());

    let seen = target_seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let head = seen[0].to_ascii_lowercase();
    assert!(!head.contains("referer"), "{head}");
    assert!(!head.contains("s3cret"), "{head}");
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("redirects to another host"), "{logs}");
    assert!(logs.contains("127.0.0.2"), "{logs}");
    assert!(!logs.contains("s3cret"), "{logs}");
}

#[tokio::test]
async fn a_huge_claimed_content_length_is_not_allocated() {
    let (url, _) = raw_server(
        "127.0.0.1",
        "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551000\r\nConnection: close\r\n\r\n[\"a\"]"
            .to_owned(),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&url, dir.path());
    cfg.max_body_bytes = u64::MAX - 1;
    cfg.retry.attempts = 1;
    let e = Fetcher::new(&cfg).fetch().await.unwrap_err();
    assert!(matches!(e, FetchError::Transport(_)), "{e}");
}
