//! The time of a log line's timestamp, for every head line of a scan.
//!
//! `nginx_line::line_time` validates and converts the whole date on each
//! call; a log's lines share their date for a day, so this remembers the
//! instant of the last date's midnight and converts only the time of day.
//! It answers exactly what `line_time` answers (a property test checks).

use crate::logs::Timestamp;
use crate::logs::nginx_line::line_time;

/// Times timestamps, remembering the last date seen.
pub struct Clock {
    utc_offset: i32,
    /// `YYYY/MM/DD ` and its midnight (`None`: not a valid date).
    day: Option<([u8; 11], Option<Timestamp>)>,
}

impl Clock {
    pub fn new(utc_offset: i32) -> Clock {
        Clock {
            utc_offset,
            day: None,
        }
    }

    /// `line_time` of a line starting with `stamp`.
    pub fn time_of(&mut self, stamp: &[u8; 19]) -> Option<Timestamp> {
        let (date, time) = stamp.split_at(11);
        let midnight = match self.day {
            Some((day, midnight)) if day == date => midnight,
            _ => {
                let mut midnight_stamp = *stamp;
                midnight_stamp[11..].copy_from_slice(b"00:00:00");
                let midnight = line_time(&midnight_stamp, self.utc_offset);
                self.day = Some((date.try_into().ok()?, midnight));
                midnight
            }
        }?;
        let secs = seconds_of_day(time)?;
        Some(Timestamp::from_unix(midnight.unix() + secs))
    }
}

/// `HH:MM:SS` → seconds since midnight, with `line_time`'s checks.
fn seconds_of_day(time: &[u8]) -> Option<i64> {
    let two = |at: usize| {
        let (tens, ones) = (time[at], time[at + 1]);
        (tens.is_ascii_digit() && ones.is_ascii_digit())
            .then(|| i64::from(tens - b'0') * 10 + i64::from(ones - b'0'))
    };
    if time.len() != 8 || time[2] != b':' || time[5] != b':' {
        return None;
    }
    let (h, m, s) = (two(0)?, two(3)?, two(6)?);
    (h < 24 && m < 60 && s < 60).then_some(h * 3600 + m * 60 + s)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Stamps near the edges: month and day bounds, leap days, hours past
    /// the day, separators and digits replaced.
    fn stamp() -> impl Strategy<Value = [u8; 19]> {
        let date = prop::sample::select(vec![
            "2026/11/24",
            "2026/11/30",
            "2026/11/31",
            "2024/02/29",
            "2026/02/29",
            "2026/12/31",
            "2026/13/01",
            "2026/00/10",
            "2026-11-24",
            "20x6/11/24",
            "2026/11/00",
        ]);
        let time = prop::sample::select(vec![
            "00:00:00",
            "23:59:59",
            "24:00:00",
            "12:60:00",
            "12:00:60",
            "9:00:000",
            "12-00-00",
            "1a:00:00",
            "21:18:05",
            "\u{1b}[2J:00:0",
        ]);
        (date, time).prop_filter_map("19 bytes", |(d, t)| {
            <[u8; 19]>::try_from(format!("{d} {t}").as_bytes()).ok()
        })
    }

    proptest! {
        /// Stamps in any order, so that the remembered date is sometimes
        /// the one asked and sometimes not.
        #[test]
        fn times_are_line_times(stamps in prop::collection::vec(stamp(), 1..20), offset in -50_400..50_400i32) {
            let mut clock = Clock::new(offset);
            for s in stamps {
                prop_assert_eq!(clock.time_of(&s), line_time(&s, offset), "{:?}", String::from_utf8_lossy(&s));
            }
        }
    }
}
