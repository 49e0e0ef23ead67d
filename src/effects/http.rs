//! The charm's HTTP calls to the workload's processes, over the pod's shared network:
//! Prometheus' `POST /-/reload`, and the inventory poller's metrics and `POST /refresh`.
//!
//! Each call runs on a runtime the calling thread drives (`on_this_thread`): reqwest's
//! blocking client would start a thread with a runtime of its own for the one request a hook
//! makes (BENCHMARKS.md, "Session 28").

use std::future::Future;
use std::time::Duration;

use crate::effects::report::ApplyError;

/// Runs `future` (one call's requests) to completion on a runtime this thread drives.
fn on_this_thread<T>(future: impl Future<Output = T>) -> std::io::Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    Ok(runtime.block_on(future))
}

/// A client whose requests time out after `timeout`.
fn client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder().timeout(timeout).build()
}

/// `POST /-/reload`. Prometheus answers 200 on success and 500 with the reason otherwise.
pub fn reload_prometheus(base_url: &str, timeout: Duration) -> Result<(), ApplyError> {
    let failed = |e: &dyn std::fmt::Display| ApplyError::ReloadFailed(e.to_string());
    let client = client(timeout).map_err(|e| failed(&e))?;
    let url = format!("{}/-/reload", base_url.trim_end_matches('/'));
    on_this_thread(reload_with(&client, &url)).map_err(|e| failed(&e))?
}

/// `POST <url>` with `client`, Prometheus' answer as a result.
async fn reload_with(client: &reqwest::Client, url: &str) -> Result<(), ApplyError> {
    match client.post(url).send().await {
        Ok(resp) if resp.status().is_success() => Ok(()),
        Ok(resp) => {
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            Err(ApplyError::ReloadFailed(format!(
                "HTTP {}: {}",
                status.as_u16(),
                body.trim()
            )))
        }
        Err(e) if e.is_connect() || e.is_timeout() => Err(ApplyError::NotReady(e.to_string())),
        Err(e) => Err(ApplyError::ReloadFailed(e.to_string())),
    }
}

/// The inventory outage as the poller's metrics show it, `None` when its last poll succeeded
/// or it cannot be asked.
pub fn inventory_outage(poller_url: &str) -> Option<String> {
    let client = client(Duration::from_secs(2)).ok()?;
    let url = format!("{}/metrics", poller_url.trim_end_matches('/'));
    let text = on_this_thread(async {
        client
            .get(url)
            .send()
            .await?
            .error_for_status()?
            .text()
            .await
    })
    .ok()?
    .ok()?;
    let metric = |name: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
    };
    let failures = metric("inventory_sd_consecutive_failures")?;
    if failures < 1.0 {
        return None;
    }
    let targets = metric("inventory_sd_targets").unwrap_or(0.0);
    let since = match metric("inventory_sd_last_success_timestamp_seconds") {
        Some(t) if t > 0.0 => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(t);
            let age = Duration::from_secs((now - t).max(0.0) as u64);
            format!("for {}", humantime::format_duration(age))
        }
        _ => "since the poller started".to_string(),
    };
    Some(format!(
        "inventory failing {since} ({failures} failed polls): serving {targets} last good targets"
    ))
}

/// Asks the poller to poll now (`POST /refresh`) and returns its JSON answer.
pub fn refresh_inventory(poller_url: &str) -> anyhow::Result<reqwest::Result<serde_json::Value>> {
    let url = format!("{}/refresh", poller_url.trim_end_matches('/'));
    let client = client(Duration::from_secs(60))?;
    Ok(on_this_thread(async {
        client
            .post(url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    })?)
}
