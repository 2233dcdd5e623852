//! Wall-clock helpers: the contract's timestamps are RFC 3339 UTC with milliseconds.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// `2026-05-12T12:00:00.000Z` for a Unix time in milliseconds.
pub fn rfc3339_millis(unix_millis: u64) -> String {
    let secs = unix_millis / 1000;
    let millis = unix_millis % 1000;
    let days = (secs / 86_400) as i64;
    let day_secs = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        day_secs / 3600,
        (day_secs / 60) % 60,
        day_secs % 60
    )
}

/// An RFC 3339 timestamp (any offset; chrono's parser) as Unix milliseconds; `None` if it is not
/// one or is before 1970.
pub fn parse_rfc3339_millis(text: &str) -> Option<u64> {
    let at = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    u64::try_from(at.timestamp_millis()).ok()
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_epoch_and_known_instants() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        // 2026-05-12T12:00:00.123Z
        assert_eq!(rfc3339_millis(1_778_587_200_123), "2026-05-12T12:00:00.123Z");
        // a leap day
        assert_eq!(rfc3339_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_millis(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
    }

    #[test]
    fn parses_what_it_formats_and_other_offsets() {
        for at in [0, 951_782_400_000, 1_778_587_200_123] {
            assert_eq!(parse_rfc3339_millis(&rfc3339_millis(at)), Some(at));
        }
        assert_eq!(parse_rfc3339_millis("2026-05-12T14:00:00.123+02:00"), Some(1_778_587_200_123));
        for bad in ["", "2026-05-12", "yesterday", "1969-12-31T23:59:59Z"] {
            assert_eq!(parse_rfc3339_millis(bad), None, "{bad}");
        }
    }
}
