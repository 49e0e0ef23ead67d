//! HTTP GET of the inventory: per-request timeout, body size cap enforced while streaming,
//! and retries with exponential backoff and full jitter inside one poll cycle.

use std::time::{Duration, Instant};

use rand::Rng;

use crate::config::{PollerConfig, RetryPolicy};
use crate::metrics::PollResult;
use crate::redact::InventoryUrl;

/// A failed fetch. Messages never contain the URL (see [`InventoryUrl`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// No full answer within `--timeout`.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// Connection refused or reset, body cut, etc.
    #[error("transport error: {0}")]
    Transport(String),
    /// A non-2xx status.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The body is larger than `--max-body-bytes`.
    #[error("body larger than --max-body-bytes {0}")]
    TooLarge(u64),
}

impl FetchError {
    /// Whether another attempt may help: connection errors, timeouts, 429 and 5xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout(_) | Self::Transport(_) => true,
            Self::Status(s) => *s == 429 || (500..600).contains(s),
            Self::TooLarge(_) => false,
        }
    }

    /// The `result` label this failure is counted under.
    pub fn result(&self) -> PollResult {
        match self {
            Self::Timeout(_) => PollResult::timeout,
            Self::Transport(_) => PollResult::transport_error,
            Self::Status(_) => PollResult::http_error,
            Self::TooLarge(_) => PollResult::too_large,
        }
    }
}

/// Fetches the inventory body.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    url: InventoryUrl,
    timeout: Duration,
    max_body: u64,
    retry: RetryPolicy,
    /// No attempt starts unless it can finish before this much time from the cycle start.
    budget: Duration,
}

impl Fetcher {
    /// A fetcher for the configured URL (one connection pool reused across cycles).
    pub fn new(config: &PollerConfig) -> Self {
        let client = reqwest::Client::builder()
            .user_agent(concat!("inventory-sd/", env!("CARGO_PKG_VERSION")))
            // The URL may carry a secret in its query string: never repeat it to a redirect
            // target (reqwest drops `Authorization` itself when the host changes).
            .referer(false)
            .redirect(redirect_policy())
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .expect("a client without TLS always builds");
        Self {
            client,
            url: config.inventory_url.clone(),
            timeout: config.timeout,
            max_body: config.max_body_bytes,
            retry: config.retry,
            budget: config.interval,
        }
    }

    /// GETs the inventory, retrying retryable failures while the cycle budget allows.
    pub async fn fetch(&self) -> Result<Vec<u8>, FetchError> {
        let start = Instant::now();
        let mut attempt = 1;
        loop {
            let err = match self.attempt().await {
                Ok(body) => return Ok(body),
                Err(e) => e,
            };
            if !err.is_retryable() || attempt >= self.retry.attempts {
                return Err(err);
            }
            let wait = backoff(self.retry.base, attempt, self.budget / 4);
            if start.elapsed() + wait + self.timeout > self.budget {
                tracing::warn!(url = %self.url, attempt, error = %err, "inventory request failed, no time left in this cycle to retry");
                return Err(err);
            }
            tracing::warn!(url = %self.url, attempt, error = %err, retry_in = ?wait, "inventory request failed, retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn attempt(&self) -> Result<Vec<u8>, FetchError> {
        let mut resp = self
            .client
            .get(self.url.expose().clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| self.classify(e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(FetchError::Status(status.as_u16()));
        }
        if resp.content_length().is_some_and(|n| n > self.max_body) {
            return Err(FetchError::TooLarge(self.max_body));
        }
        // Never sized from the Content-Length the server claims: grown as bytes arrive.
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.classify(e))? {
            if body.len() as u64 + chunk.len() as u64 > self.max_body {
                return Err(FetchError::TooLarge(self.max_body));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn classify(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            return FetchError::Timeout(self.timeout);
        }
        // `without_url` keeps credentials out; the chain gives the useful cause.
        let e = e.without_url();
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        FetchError::Transport(msg)
    }
}

/// Most redirects followed in one request.
const MAX_REDIRECTS: usize = 10;

/// Follows up to [`MAX_REDIRECTS`] redirects and logs each one that leaves the host (scheme,
/// host and port only: a path or query may hold a secret).
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error("too many redirects");
        }
        let origin = |u: &reqwest::Url| {
            format!(
                "{}://{}:{}",
                u.scheme(),
                u.host_str().unwrap_or(""),
                u.port_or_known_default().unwrap_or(0)
            )
        };
        if let Some(from) = attempt.previous().last() {
            let (from, to) = (origin(from), origin(attempt.url()));
            if from != to {
                tracing::warn!(%from, %to, "the inventory redirects to another host; following it without credentials or Referer");
            }
        }
        attempt.follow()
    })
}

/// Full-jitter exponential backoff: random in `[0, min(cap, base * 2^(attempt-1))]`.
pub fn backoff(base: Duration, attempt: u32, cap: Duration) -> Duration {
    let ceiling = base
        .saturating_mul(
            1u32.checked_shl(attempt.saturating_sub(1))
                .unwrap_or(u32::MAX),
        )
        .min(cap);
    if ceiling.is_zero() {
        return Duration::ZERO;
    }
    let nanos = rand::rng().random_range(0..=ceiling.as_nanos().min(u64::MAX as u128) as u64);
    Duration::from_nanos(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_rules() {
        assert!(FetchError::Status(503).is_retryable());
        assert!(FetchError::Status(429).is_retryable());
        assert!(!FetchError::Status(404).is_retryable());
        assert!(!FetchError::Status(401).is_retryable());
        assert!(FetchError::Timeout(Duration::from_secs(1)).is_retryable());
        assert!(FetchError::Transport("reset".into()).is_retryable());
        assert!(!FetchError::TooLarge(1).is_retryable());
    }

    #[test]
    fn backoff_is_bounded() {
        let base = Duration::from_millis(200);
        for attempt in 1..40 {
            let cap = Duration::from_secs(2);
            let w = backoff(base, attempt, cap);
            assert!(w <= cap, "{w:?}");
            let ceiling = base * 2u32.pow((attempt - 1).min(20));
            assert!(w <= ceiling, "attempt {attempt}: {w:?}");
        }
        assert_eq!(
            backoff(Duration::ZERO, 3, Duration::from_secs(1)),
            Duration::ZERO
        );
    }
}
