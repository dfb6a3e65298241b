//! Log timestamps: the wall-clock times nginx and php-fpm write, as instants.
//!
//! Both write the host's *local* time without a zone (`2026/11/24 21:18:00`,
//! `24-Nov-2026 21:18:53`), so turning a line's time into an instant needs the
//! host's UTC offset. The parsers take that offset as a parameter instead of
//! asking the C library per line: it keeps them pure and testable, and one
//! offset per scan is right except across a DST change (the part of a window
//! before the change is then off by the DST shift; windows are minutes long,
//! so the diagnosis is rarely affected).

use std::fmt;
use std::mem::MaybeUninit;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// An instant, in whole seconds since the Unix epoch (UTC). Ordered, so a
/// window is `t >= since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `secs` seconds after the Unix epoch.
    pub const fn from_unix(secs: i64) -> Self {
        Timestamp(secs)
    }

    /// Seconds since the Unix epoch.
    pub const fn unix(self) -> i64 {
        self.0
    }

    /// The current time (the epoch itself if the clock is before 1970).
    pub fn now() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        Timestamp(secs)
    }

    /// This instant moved `secs` seconds into the past (saturating), e.g.
    /// `Timestamp::now().minus_secs(900)` for "the last 15 minutes".
    pub fn minus_secs(self, secs: u64) -> Self {
        let secs = i64::try_from(secs).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_sub(secs))
    }

    /// The instant a local wall-clock time names, given the offset of local
    /// time from UTC (seconds east, e.g. 3600 for CET). `None` when a field is
    /// out of range (month 13, 31 April, hour 24): such a line is not a log line.
    pub(super) fn from_local(local: LocalTime, utc_offset_secs: i32) -> Option<Self> {
        let LocalTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        } = local;
        let valid = (1..=12).contains(&month)
            && (1..=days_in_month(year, month)).contains(&day)
            && hour < 24
            && minute < 60
            && second < 60;
        if !valid {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
        Some(Timestamp(secs - i64::from(utc_offset_secs)))
    }
}

impl Timestamp {
    /// The local wall-clock time a person reads beside the host's logs:
    /// `10:41:02` on the day of `today`, `2026-11-24 10:41:02` on another.
    pub fn clock(self, today: Timestamp, utc_offset_secs: i32) -> String {
        let local = |t: Timestamp| t.0 + i64::from(utc_offset_secs);
        let (days, secs) = (
            local(self).div_euclid(86_400),
            local(self).rem_euclid(86_400),
        );
        let (h, mi, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
        if days == local(today).div_euclid(86_400) {
            return format!("{h:02}:{mi:02}:{s:02}");
        }
        let (y, m, d) = civil_from_days(days);
        format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}")
    }
}

/// RFC 3339 in UTC (`2026-11-24T21:18:00Z`), for reports that may be read in
/// another time zone than the host's.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let (h, mi, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
        write!(f, "{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    }
}

/// A wall-clock time as a log writes it, before the zone is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LocalTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

/// The host's current offset of local time from UTC, in seconds east
/// (what nginx and php-fpm apply when they write a time). 0 when the C
/// library cannot tell.
pub fn local_utc_offset() -> i32 {
    local_utc_offset_at(Timestamp::now())
}

/// The host's offset of local time from UTC at instant `at` (DST-aware), in
/// seconds east; 0 when the C library cannot tell.
pub fn local_utc_offset_at(at: Timestamp) -> i32 {
    let Some(t) = nix::libc::time_t::try_from(at.unix()).ok() else {
        return 0;
    };
    let mut tm = MaybeUninit::<nix::libc::tm>::uninit();
    // SAFETY: `t` and `tm` are valid for the call; localtime_r is the
    // reentrant variant and writes only into `tm`, which we read only after
    // it reported success (non-null).
    let filled = unsafe { nix::libc::localtime_r(&t, tm.as_mut_ptr()) };
    if filled.is_null() {
        return 0;
    }
    // SAFETY: localtime_r returned non-null, so it initialised `tm`.
    let tm = unsafe { tm.assume_init() };
    i32::try_from(tm.tm_gmtoff).unwrap_or(0)
}

/// Parses a run of ASCII digits (all of `bytes`, at least one).
pub(super) fn parse_digits(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || bytes.len() > 9 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(bytes.iter().fold(0, |n, b| n * 10 + u32::from(b - b'0')))
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`), exact for every year a log can hold.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_today_is_the_time_alone_and_another_day_has_its_date() {
        let today = Timestamp::from_unix(1_764_000_000); // 2025-11-24T16:00:00Z
        let morning = Timestamp::from_unix(1_763_978_462); // 10:01:02Z
        assert_eq!(morning.clock(today, 0), "10:01:02");
        assert_eq!(morning.clock(today, 3600), "11:01:02");
        let before = today.minus_secs(86_400);
        assert_eq!(before.clock(today, 0), "2025-11-23 16:00:00");
    }

    fn local(year: i64, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> LocalTime {
        LocalTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        }
    }

    #[test]
    fn utc_wall_clock_maps_to_the_known_epoch_second() {
        let t = Timestamp::from_local(local(2026, 11, 24, 21, 18, 0), 0);
        assert_eq!(t, Some(Timestamp::from_unix(1_795_555_080)));
    }

    #[test]
    fn offset_east_of_utc_moves_the_instant_earlier() {
        let utc = Timestamp::from_local(local(2026, 11, 24, 21, 18, 0), 0).map(Timestamp::unix);
        let cet = Timestamp::from_local(local(2026, 11, 24, 21, 18, 0), 3600).map(Timestamp::unix);
        assert_eq!(cet, utc.map(|u| u - 3600));
    }

    #[test]
    fn impossible_dates_are_rejected() {
        assert_eq!(Timestamp::from_local(local(2026, 2, 29, 0, 0, 0), 0), None);
        assert_eq!(Timestamp::from_local(local(2026, 4, 31, 0, 0, 0), 0), None);
        assert_eq!(Timestamp::from_local(local(2026, 13, 1, 0, 0, 0), 0), None);
        assert_eq!(Timestamp::from_local(local(2026, 1, 1, 24, 0, 0), 0), None);
        assert!(Timestamp::from_local(local(2024, 2, 29, 0, 0, 0), 0).is_some());
    }

    #[test]
    fn display_is_rfc3339_utc() {
        assert_eq!(
            Timestamp::from_unix(1_795_555_080).to_string(),
            "2026-11-24T21:18:00Z"
        );
        assert_eq!(Timestamp::from_unix(-1).to_string(), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn civil_round_trips_across_leap_days() {
        for days in [-1, 0, 11_016, 19_782, 20_513, 1_000_000] {
            let (y, m, d) = civil_from_days(days);
            let back = days_from_civil(y, m as u32, d as u32);
            assert_eq!(back, days, "day {days} became {y}-{m}-{d}");
        }
    }

    #[test]
    fn minus_secs_saturates() {
        assert_eq!(
            Timestamp::from_unix(100).minus_secs(40),
            Timestamp::from_unix(60)
        );
        assert_eq!(
            Timestamp::from_unix(i64::MIN + 1).minus_secs(10).unix(),
            i64::MIN
        );
    }

    #[test]
    fn local_offset_is_within_a_day() {
        assert!(local_utc_offset().abs() < 86_400);
    }

    #[test]
    fn digits_reject_empty_signs_and_letters() {
        assert_eq!(parse_digits(b"2026"), Some(2026));
        assert_eq!(parse_digits(b""), None);
        assert_eq!(parse_digits(b"-1"), None);
        assert_eq!(parse_digits(b"1a"), None);
        assert_eq!(parse_digits(b"9999999999"), None);
    }
}
