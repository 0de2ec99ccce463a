//! Injected time, so expiry, lockout and retention are tested without
//! sleeping.

use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current time in unix seconds.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> i64;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// The (year, month) of a unix time, in UTC.
pub fn year_month(unix: i64) -> (i64, u32) {
    let (y, m, _) = civil_date(unix);
    (y, m)
}

/// The (year, month, day) of a unix time, in UTC (proleptic Gregorian
/// calendar; Howard Hinnant's `civil_from_days`).
pub fn civil_date(unix: i64) -> (i64, u32, u32) {
    let z = unix.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// `YYYY-MM-DD HH:MM` (UTC) of a unix time.
pub fn format_utc(unix: i64) -> String {
    let (y, m, d) = civil_date(unix);
    let secs = unix.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn year_month_of_known_dates() {
        assert_eq!(super::year_month(0), (1970, 1));
        assert_eq!(super::year_month(1_795_000_000), (2026, 11));
        assert_eq!(super::year_month(951_782_400), (2000, 2)); // 2000-02-29
        assert_eq!(super::year_month(1_704_067_199), (2023, 12));
        assert_eq!(super::year_month(1_704_067_200), (2024, 1));
        assert_eq!(super::civil_date(951_782_400), (2000, 2, 29));
        assert_eq!(super::format_utc(1_795_000_000), "2026-11-18 11:06");
    }
}

/// A clock that only moves when told to (for tests).
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(now: i64) -> Self {
        Self(AtomicI64::new(now))
    }
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
