//! Loopback ports for processes a test starts later.
//!
//! A port found by binding port 0 and closing the listener can be taken again before the
//! process that was given it binds it: the kernel hands its ephemeral range out to the next
//! `bind(0)` and to the local end of every outgoing connection (Prometheus scraping, an HTTP
//! client). Ports here are picked below that range, where only explicit binds land, and never
//! twice in one process.

use std::collections::BTreeSet;
use std::io;
use std::net::TcpListener;
use std::sync::Mutex;

use rand::Rng;

/// The lowest port picked: above the registered services tests may meet on a host.
const LOWEST: u16 = 20_000;
/// Where the kernel's ephemeral range starts when `/proc` does not say (Linux's default).
const EPHEMERAL_START: u16 = 32_768;

static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A port free on `0.0.0.0` now, outside the kernel's ephemeral range, not handed out before
/// by this process.
pub fn unused_port() -> io::Result<u16> {
    let top = ephemeral_start().max(LOWEST + 1_000);
    let mut rng = rand::rng();
    for _ in 0..200 {
        let port = rng.random_range(LOWEST..top);
        if take(port) {
            return Ok(port);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("no free port in {LOWEST}..{top} after 200 tries"),
    ))
}

/// `port` when it is free and not handed out before; else [`unused_port`].
pub fn port_preferring(port: u16) -> io::Result<u16> {
    if take(port) {
        return Ok(port);
    }
    unused_port()
}

/// Hands `port` out if nothing holds it and it was not handed out before.
fn take(port: u16) -> bool {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    if handed_out.contains(&port) || TcpListener::bind(("0.0.0.0", port)).is_err() {
        return false;
    }
    handed_out.insert(port)
}

/// The first port of `net.ipv4.ip_local_port_range`.
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(EPHEMERAL_START)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_below_the_ephemeral_range_and_never_repeat() {
        let start = ephemeral_start();
        let ports: Vec<u16> = (0..50).map(|_| unused_port().unwrap()).collect();
        assert!(
            ports
                .iter()
                .all(|p| (LOWEST..start.max(LOWEST + 1_000)).contains(p)),
            "{ports:?}"
        );
        let distinct: BTreeSet<_> = ports.iter().collect();
        assert_eq!(distinct.len(), ports.len(), "{ports:?}");
    }

    #[test]
    fn a_held_or_handed_out_preferred_port_is_not_given() {
        let held = TcpListener::bind("0.0.0.0:0").unwrap();
        let held_port = held.local_addr().unwrap().port();
        assert_ne!(port_preferring(held_port).unwrap(), held_port);
        let given = unused_port().unwrap();
        assert_ne!(port_preferring(given).unwrap(), given);
    }
}
