//! The relation-targets server on a real loopback socket: what its connections do over time.
//! Prometheus keeps a connection per `http_sd` job and, after a 2.x reload, abandons them for
//! new ones; the server must let go of the abandoned ones and keep the ones in use.

use std::net::SocketAddr;
use std::time::Duration;

use inventory_sd::targets::{router, serve_on};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const IDLE: Duration = Duration::from_millis(400);
const GROUPS: &str = r#"[{"targets":["10.0.0.1:9100"],"labels":{"juju_unit":"a/0"}}]"#;

/// Sends `GET /targets/{id}` on `stream` and reads one response: its status line and body.
async fn get(stream: &mut TcpStream, id: &str) -> (String, String) {
    let request = format!("GET /targets/{id} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the server closed the connection mid-response");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("a content-length");
    while buf.len() < head_end + length {
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the server closed the connection mid-body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let status = head.lines().next().unwrap().to_owned();
    let body = String::from_utf8(buf[head_end..head_end + length].to_vec()).unwrap();
    (status, body)
}

/// A server of one target file (`ab12`) with `idle` as its idle timeout, until `shutdown`:
/// its directory (kept alive by the caller), its address and its task.
async fn start(
    idle: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> (tempfile::TempDir, SocketAddr, tokio::task::JoinHandle<()>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ab12.json"), GROUPS).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(serve_on(
        listener,
        router(dir.path().into()),
        idle,
        shutdown,
    ));
    (dir, addr, server)
}

#[tokio::test]
async fn idle_connections_are_closed_and_busy_ones_kept() {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (_dir, addr, server) = start(IDLE, async {
        let _ = stopped.await;
    })
    .await;

    let mut idle = TcpStream::connect(addr).await.unwrap();
    let mut busy = TcpStream::connect(addr).await.unwrap();
    assert_eq!(
        get(&mut idle, "ab12").await,
        ("HTTP/1.1 200 OK".into(), GROUPS.into())
    );

    // The busy connection asks more often than the idle timeout, for three timeouts' time.
    let deadline = tokio::time::Instant::now() + IDLE * 3;
    let mut answered = 0;
    while tokio::time::Instant::now() < deadline {
        let (status, body) = get(&mut busy, "ab12").await;
        assert_eq!(
            (status.as_str(), body.as_str()),
            ("HTTP/1.1 200 OK", GROUPS)
        );
        answered += 1;
        tokio::time::sleep(IDLE / 4).await;
    }
    assert!(answered >= 8, "{answered} requests on the busy connection");

    // The idle one was closed cleanly: end of stream, no unsolicited bytes.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), idle.read_to_end(&mut rest)).await;
    assert_eq!(
        read.expect("closed within the timeout").unwrap(),
        0,
        "{rest:?}"
    );

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stops on shutdown")
        .unwrap();
}

#[tokio::test]
async fn a_connection_that_never_asks_is_closed_too() {
    let (_dir, addr, _server) = start(IDLE, std::future::pending()).await;
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let started = tokio::time::Instant::now();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), silent.read_to_end(&mut rest)).await;
    assert!(read.expect("closed within the timeout").is_ok());
    assert!(
        started.elapsed() >= IDLE,
        "closed after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_zero_idle_timeout_keeps_connections_open() {
    let (_dir, addr, _server) = start(Duration::ZERO, std::future::pending()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    assert_eq!(get(&mut stream, "ab12").await.0, "HTTP/1.1 200 OK");
    tokio::time::sleep(IDLE * 2).await;
    assert_eq!(get(&mut stream, "ab12").await.0, "HTTP/1.1 200 OK");
}
