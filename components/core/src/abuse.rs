//! Abuse limits (`appwrite-api.md` §10): fixed-window counters in the project's SQL (consistent
//! storage, never the KV cache), keyed as Appwrite keys them. API-key callers are exempt, and
//! `EDGEWRITE_ABUSE_LIMITS=off` turns the limiter off (tests of other features).

use sha2::{Digest, Sha256};

use crate::error::{AppwriteError, ErrorType};
use crate::ports::{Ports, Statement, Value};
use crate::router::Ctx;

/// A limit: at most `max` hits per `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub window_secs: u32,
}

/// The counter state after a hit, for the `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds when the window resets.
    pub reset: i64,
}

impl Usage {
    pub fn headers(&self) -> [(&'static str, String); 3] {
        [
            ("x-ratelimit-limit", self.limit.to_string()),
            ("x-ratelimit-remaining", self.remaining.to_string()),
            ("x-ratelimit-reset", self.reset.to_string()),
        ]
    }
}

/// The `{url}` part of an abuse-limit key: the route. Appwrite prefixes the host name; here the
/// Host header is the client's to choose (on Spin it reaches the app unchecked), so a changed
/// Host would restart the count.
pub fn url_key(path: &str) -> String {
    format!("url:{path}")
}

/// The `url + ip` abuse key most routes count by.
pub fn ip_key(ctx: &Ctx<'_>, path: &str) -> String {
    format!("{},ip:{}", url_key(path), ctx.request.client_ip)
}

fn counter_key(key: &str) -> String {
    Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether limits apply to this request.
pub fn applies(ctx: &Ctx<'_>) -> bool {
    ctx.config.abuse_limits && !ctx.caller.skips_abuse_limits()
}

/// Counters are per project (on Spin several projects could share one database).
fn scoped(ctx: &Ctx<'_>, key: &str) -> String {
    format!("project:{},{key}", ctx.project.unwrap_or_default())
}

/// Counts a hit on `key` when limits apply to this caller (see [`hit`]).
pub async fn check(ctx: &Ctx<'_>, key: &str, limit: Limit) -> Result<(), AppwriteError> {
    // A request served again after offloaded work was counted the first time.
    if applies(ctx) && !ctx.ports.offload.repeat() {
        hit(&ctx.ports, &scoped(ctx, key), limit).await?;
    }
    Ok(())
}

/// Forgets the hits on `key` when limits apply to this caller (Appwrite resets the login
/// counter after a successful login).
pub async fn reset(ctx: &Ctx<'_>, key: &str) -> Result<(), AppwriteError> {
    if applies(ctx) {
        forget(&ctx.ports, &scoped(ctx, key)).await?;
    }
    Ok(())
}

/// Counts a hit on `key` (e.g. `url:/v1/account/sessions/email,email:a@b.c`); fails with 429
/// `general_rate_limit_exceeded` once the window holds more than `limit.max` hits. The counter is
/// its own write, so a request that fails later still counts.
pub async fn hit(ports: &Ports<'_>, key: &str, limit: Limit) -> Result<Usage, AppwriteError> {
    let now_s = ports.clock.now_ms() / 1000;
    let window = i64::from(limit.window_secs.max(1));
    let window_start = now_s - now_s.rem_euclid(window);
    let rows = ports
        .sql
        .query(Statement::new(
            "INSERT INTO abuse_counters (key, window_start, count) VALUES (?, ?, 1)
             ON CONFLICT (key) DO UPDATE SET
               count = CASE WHEN window_start = excluded.window_start THEN count + 1 ELSE 1 END,
               window_start = excluded.window_start
             RETURNING count",
            vec![counter_key(key).into(), Value::Integer(window_start)],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    let count = rows.rows.first().and_then(|r| r.first()).and_then(Value::as_i64).unwrap_or(1).max(0) as u64;
    let usage = Usage {
        limit: limit.max,
        remaining: u64::from(limit.max).saturating_sub(count) as u32,
        reset: window_start + window,
    };
    if count > u64::from(limit.max) {
        let mut err = AppwriteError::new(
            ErrorType::GeneralRateLimitExceeded,
            "Rate limit for the current endpoint has been exceeded. Please try again after some time.",
        );
        for (name, value) in usage.headers() {
            err = err.with_header(name, value);
        }
        return Err(err);
    }
    Ok(usage)
}

async fn forget(ports: &Ports<'_>, key: &str) -> Result<(), AppwriteError> {
    ports
        .sql
        .query(Statement::new("DELETE FROM abuse_counters WHERE key = ?", vec![counter_key(key).into()]))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(())
}
