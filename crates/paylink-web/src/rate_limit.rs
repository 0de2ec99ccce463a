//! Per-API-key request rate limit: a token bucket per key, refilled at
//! `rate` requests per second with a burst of `rate`. Over it, a 429
//! `rate_limit_error` with `Retry-After`. The buckets live in each
//! instance, so N instances allow up to N × rate in all.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `rate` requests per second per key; 0 disables the limit.
    pub fn new(rate: u32) -> Self {
        Self {
            rate: f64::from(rate),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`, or says how many seconds until one is free.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), u64> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let mut buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        let (tokens, last) = buckets.entry(key.to_string()).or_insert((self.rate, now));
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * self.rate).min(self.rate);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - *tokens) / self.rate).ceil();
            // `wait` is a small positive number of seconds.
            Err(if wait.is_finite() && wait >= 1.0 {
                wait as u64
            } else {
                1
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_refills() {
        let l = RateLimiter::new(2);
        let t = Instant::now();
        assert!(l.check("k", t).is_ok());
        assert!(l.check("k", t).is_ok());
        assert_eq!(l.check("k", t), Err(1));
        assert!(l.check("other", t).is_ok());
        assert!(l.check("k", t + Duration::from_millis(600)).is_ok());
        assert!(RateLimiter::new(0).check("k", t).is_ok());
    }
}
