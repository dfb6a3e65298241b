//! nginx's time and size notations (`ngx_parse_time()`, `ngx_parse_size()`),
//! so effective timeouts and buffer sizes can be compared with numbers from
//! logs and backend configs ("60s" vs php-fpm's `request_terminate_timeout`).

use std::time::Duration;

/// Parses an nginx time: `500ms`, `30s`, `1m30s`, `1h 5m`, `2d`, `1w`, `1M`,
/// `1y`, or a bare number of seconds. None when nginx would reject it.
pub fn parse_time(text: &str) -> Option<Duration> {
    let bytes = text.as_bytes();
    let mut total_ms: u64 = 0;
    let mut value: u64 = 0;
    let mut digits = false;
    let mut any = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        i += 1;
        if c.is_ascii_digit() {
            value = value.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            digits = true;
            any = true;
            continue;
        }
        if c == b' ' {
            continue;
        }
        let scale_ms: u64 = match c {
            b'm' if bytes.get(i) == Some(&b's') => {
                i += 1;
                1
            }
            b'y' => 365 * 86_400_000,
            b'M' => 30 * 86_400_000,
            b'w' => 7 * 86_400_000,
            b'd' => 86_400_000,
            b'h' => 3_600_000,
            b'm' => 60_000,
            b's' => 1000,
            _ => return None,
        };
        if !digits {
            return None;
        }
        total_ms = total_ms.checked_add(value.checked_mul(scale_ms)?)?;
        value = 0;
        digits = false;
    }
    if !any {
        return None;
    }
    total_ms = total_ms.checked_add(value.checked_mul(1000)?)?;
    Some(Duration::from_millis(total_ms))
}

/// Parses an nginx size: `4096`, `4k`/`4K`, `1m`/`1M`, `1g`/`1G`, in bytes.
pub fn parse_size(text: &str) -> Option<u64> {
    let (number, scale) = match text.as_bytes().last()? {
        b'k' | b'K' => (&text[..text.len() - 1], 1u64 << 10),
        b'm' | b'M' => (&text[..text.len() - 1], 1 << 20),
        b'g' | b'G' => (&text[..text.len() - 1], 1 << 30),
        _ => (text, 1),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number.parse::<u64>().ok()?.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_number_is_seconds() {
        assert_eq!(parse_time("75"), Some(Duration::from_secs(75)));
    }

    #[test]
    fn units_combine() {
        assert_eq!(parse_time("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_time("1h 5m"), Some(Duration::from_secs(3900)));
        assert_eq!(parse_time("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_time("2d"), Some(Duration::from_secs(172_800)));
    }

    #[test]
    fn garbage_time_is_none() {
        for text in ["", "s", "abc", "1x", "99999999999999999999y"] {
            assert_eq!(parse_time(text), None, "{text}");
        }
    }

    #[test]
    fn sizes_scale_by_suffix() {
        assert_eq!(parse_size("4k"), Some(4096));
        assert_eq!(parse_size("8K"), Some(8192));
        assert_eq!(parse_size("1m"), Some(1 << 20));
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("k"), None);
        assert_eq!(parse_size("1.5k"), None);
    }
}
