//! When the next attempt of a failed delivery is due (contract, "Events and delivery", Retries):
//! the schedule (default 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: 8 attempts over about 27.6 h, or
//! `RETRY_SCHEDULE`), each delay varied by ±20 % at random, and a receiver's `Retry-After` on a 429
//! or 503 (seconds or an HTTP date) honoured within the jittered delay and twice it. Pure: the
//! caller supplies the randomness and the clock.

use std::time::{Duration, SystemTime};

/// The contract's default delays between attempts, in seconds.
pub const DEFAULT_RETRY_SCHEDULE: [u64; 7] = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];
/// How far each delay is varied either way (±20 %).
pub const JITTER_FRACTION: f64 = 0.2;

/// The delays between attempts: attempt `n + 1` comes `delays[n - 1]` after attempt `n` failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule { delays: DEFAULT_RETRY_SCHEDULE.iter().map(|s| Duration::from_secs(*s)).collect() }
    }
}

impl RetrySchedule {
    /// `RETRY_SCHEDULE`: comma-separated whole seconds, each at least 1 (spaces allowed); blank is
    /// the default. Anything else is an error naming the variable, so a typo never runs as a guess.
    pub fn parse(text: &str) -> Result<RetrySchedule, String> {
        if text.trim().is_empty() {
            return Ok(RetrySchedule::default());
        }
        let delays =
            text.split(',')
                .map(|part| {
                    part.trim().parse::<u64>().ok().filter(|s| *s >= 1).map(Duration::from_secs).ok_or_else(|| {
                        format!("RETRY_SCHEDULE: `{}` is not a whole number of seconds ≥ 1", part.trim())
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
        Ok(RetrySchedule { delays })
    }

    /// Attempts in all, the first one included.
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.delays.len() + 1).unwrap_or(u32::MAX)
    }

    /// The wait after failed attempt `attempt` (1 = the first), or `None` when the schedule is spent.
    /// `jitter` is a uniform random number in [-1, 1] (it scales the ±20 %); `retry_after` is the
    /// receiver's `Retry-After` on a 429 or 503, kept between the jittered delay and twice it.
    pub fn delay_after(&self, attempt: u32, jitter: f64, retry_after: Option<Duration>) -> Option<Duration> {
        let base = *self.delays.get(usize::try_from(attempt.checked_sub(1)?).ok()?)?;
        let factor = 1.0 + JITTER_FRACTION * jitter.clamp(-1.0, 1.0);
        let jittered = base.mul_f64(factor);
        Some(match retry_after {
            Some(asked) => asked.clamp(jittered, jittered * 2),
            None => jittered,
        })
    }
}

/// A uniform random number in [-1, 1] for `RetrySchedule::delay_after`, from the OS; 0 (no
/// jitter) if the OS has none to give.
pub fn random_jitter() -> f64 {
    crate::secrets::random_bytes::<4>()
        .map(|bytes| f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX) * 2.0 - 1.0)
        .unwrap_or(0.0)
}

/// A `Retry-After` value at `now`: delay-seconds, or an HTTP date (RFC 9110 section 10.2.3); a date
/// in the past is no wait. `None` for anything else, which is then ignored.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Whether a response status may carry a `Retry-After` this service honours (429 and 503 only).
pub fn honours_retry_after(status: u16) -> bool {
    matches!(status, 429 | 503)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn the_default_schedule_is_eight_attempts_over_about_27_6_hours() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.max_attempts(), 8);
        let total: Duration = (1..8).map(|a| schedule.delay_after(a, 0.0, None).unwrap()).sum();
        assert_eq!(total, S(5 + 300 + 1800 + 7200 + 18_000 + 36_000 + 36_000));
        assert!((total.as_secs_f64() / 3600.0 - 27.6).abs() < 0.05);
        assert_eq!(schedule.delay_after(8, 0.0, None), None, "spent after the eighth attempt");
        assert_eq!(schedule.delay_after(0, 0.0, None), None);
    }

    #[test]
    fn jitter_varies_each_delay_by_at_most_twenty_percent() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.delay_after(2, -1.0, None), Some(S(240)));
        assert_eq!(schedule.delay_after(2, 1.0, None), Some(S(360)));
        assert_eq!(schedule.delay_after(2, 5.0, None), Some(S(360)), "out-of-range randomness is clamped");
    }

    #[test]
    fn retry_after_is_kept_between_the_jittered_delay_and_twice_it() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.delay_after(1, 0.0, Some(S(7))), Some(S(7)), "within bounds: as asked");
        assert_eq!(schedule.delay_after(1, 0.0, Some(S(1))), Some(S(5)), "sooner than scheduled: the schedule");
        assert_eq!(schedule.delay_after(1, 0.0, Some(S(3600))), Some(S(10)), "far later: twice the delay");
        assert_eq!(schedule.delay_after(1, 1.0, Some(S(3600))), Some(S(12)), "bounds apply to the jittered delay");
    }

    #[test]
    fn retry_schedule_parses_whole_seconds_and_refuses_the_rest() {
        assert_eq!(RetrySchedule::parse(" 1, 2 ,3").unwrap().max_attempts(), 4);
        assert_eq!(RetrySchedule::parse("").unwrap(), RetrySchedule::default());
        for bad in ["0", "1,,2", "5s", "-1", "1.5", "x"] {
            assert!(RetrySchedule::parse(bad).unwrap_err().contains("RETRY_SCHEDULE"), "{bad}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + S(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(parse_retry_after("120", now), Some(S(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(S(0)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now), Some(S(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), Some(S(0)), "past: no wait");
        for junk in ["", "soon", "-5", "1.5", "Wed, 99 Oct 2015 07:30:00 GMT"] {
            assert_eq!(parse_retry_after(junk, now), None, "{junk}");
        }
        assert!(honours_retry_after(429) && honours_retry_after(503) && !honours_retry_after(500));
    }
}
