//! Appwrite datetimes: ISO-8601 with milliseconds and offset, `2026-01-01T12:34:56.789+00:00`.

/// A UTC instant split into calendar fields.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    minute: i64,
    second: i64,
    millis: i64,
    /// Days since the epoch, for the weekday.
    days: i64,
}

fn civil(ms: i64) -> Civil {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Civil {
        year,
        month,
        day,
        hour: rem / 3600,
        minute: (rem % 3600) / 60,
        second: rem % 60,
        millis: ms.rem_euclid(1000),
        days,
    }
}

/// Formats unix milliseconds as Appwrite does (always UTC, `+00:00`).
pub fn iso_from_ms(ms: i64) -> String {
    let c = civil(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+00:00",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.millis
    )
}

/// Formats unix milliseconds as an HTTP date (`Wed, 25 Nov 2026 15:00:00 GMT`), for cookies.
pub fn http_date_from_ms(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let c = civil(ms);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[c.days.rem_euclid(7) as usize],
        c.day,
        MONTHS[(c.month - 1) as usize],
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

/// Parses an ISO-8601 datetime as Appwrite accepts it in queries and params, into unix
/// milliseconds: `2026-01-01T12:34:56.789+00:00`, `…Z`, other offsets (`+05:30`, `-0800`, `+05`),
/// missing seconds or millis, a space instead of `T`, no offset (UTC), or a bare date
/// `2026-01-01`. Extra fraction digits are truncated to milliseconds. `None` on anything else.
///
/// ```
/// use edgewrite_core::time::ms_from_iso;
/// assert_eq!(ms_from_iso("2026-01-01T12:34:56.789+00:00"), Some(1_767_270_896_789));
/// assert_eq!(ms_from_iso("yesterday"), None);
/// ```
pub fn ms_from_iso(s: &str) -> Option<i64> {
    let mut p = Scanner { b: s.as_bytes(), i: 0 };
    let year = p.digits(4)?;
    p.byte(b'-')?;
    let month = p.digits(2)?;
    p.byte(b'-')?;
    let day = p.digits(2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut ms = days_from_civil(year, month, day) * 86_400_000;
    if p.done() {
        return Some(ms);
    }
    if !matches!(p.next()?, b'T' | b't' | b' ') {
        return None;
    }
    let hour = p.digits(2)?;
    p.byte(b':')?;
    let minute = p.digits(2)?;
    let second = if p.peek() == Some(b':') {
        p.i += 1;
        p.digits(2)?
    } else {
        0
    };
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut millis = 0;
    if matches!(p.peek(), Some(b'.' | b',')) {
        p.i += 1;
        let start = p.i;
        while p.peek().is_some_and(|b| b.is_ascii_digit()) {
            if p.i - start < 3 {
                millis = millis * 10 + i64::from(p.b[p.i] - b'0');
            }
            p.i += 1;
        }
        match p.i - start {
            0 => return None,
            1 => millis *= 100,
            2 => millis *= 10,
            _ => {}
        }
    }
    ms += ((hour * 60 + minute) * 60 + second) * 1000 + millis;
    let offset_minutes = match p.next() {
        None => 0,
        Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let hours = p.digits(2)?;
            let minutes = match p.peek() {
                None => 0,
                Some(b':') => {
                    p.i += 1;
                    p.digits(2)?
                }
                Some(_) => p.digits(2)?,
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let total = hours * 60 + minutes;
            if sign == b'-' {
                -total
            } else {
                total
            }
        }
        Some(_) => return None,
    };
    if !p.done() {
        return None;
    }
    Some(ms - offset_minutes * 60_000)
}

/// A cursor over ASCII bytes for [`ms_from_iso`].
struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        Some(b)
    }

    fn done(&self) -> bool {
        self.i == self.b.len()
    }

    fn byte(&mut self, expected: u8) -> Option<()> {
        (self.next()? == expected).then_some(())
    }

    /// Exactly `n` ASCII digits as a number.
    fn digits(&mut self, n: usize) -> Option<i64> {
        let chunk = self.b.get(self.i..self.i + n)?;
        if !chunk.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.i += n;
        Some(chunk.iter().fold(0, |acc, d| acc * 10 + i64::from(d - b'0')))
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// (year, month, day) → days since 1970-01-01, proleptic Gregorian (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso_from_ms(0), "1970-01-01T00:00:00.000+00:00");
        assert_eq!(iso_from_ms(1_767_270_896_789), "2026-01-01T12:34:56.789+00:00");
        assert_eq!(iso_from_ms(951_782_400_000), "2000-02-29T00:00:00.000+00:00");
        assert_eq!(iso_from_ms(-1), "1969-12-31T23:59:59.999+00:00");
        assert_eq!(http_date_from_ms(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date_from_ms(1_795_100_400_000), "Thu, 19 Nov 2026 15:00:00 GMT");
    }

    #[test]
    fn parses_the_iso_shapes_appwrite_accepts() {
        let noon = 1_767_270_896_789;
        for s in [
            "2026-01-01T12:34:56.789+00:00",
            "2026-01-01T12:34:56.789Z",
            "2026-01-01t12:34:56.789z",
            "2026-01-01 12:34:56.789",
            "2026-01-01T12:34:56.789",
            "2026-01-01T12:34:56.789123+00:00",
            "2026-01-01T18:04:56.789+05:30",
            "2026-01-01T18:04:56.789+0530",
            "2026-01-01T04:34:56.789-08:00",
            "2026-01-01T13:34:56.789+01",
        ] {
            assert_eq!(ms_from_iso(s), Some(noon), "{s}");
        }
        assert_eq!(ms_from_iso("2026-01-01T12:34:56+00:00"), Some(noon - 789));
        assert_eq!(ms_from_iso("2026-01-01T12:34:56.7Z"), Some(noon - 89));
        assert_eq!(ms_from_iso("2026-01-01T12:34:56.78Z"), Some(noon - 9));
        assert_eq!(ms_from_iso("2026-01-01T12:34Z"), Some(noon - 56_789));
        assert_eq!(ms_from_iso("2026-01-01"), Some(1_767_225_600_000));
        assert_eq!(ms_from_iso("1970-01-01"), Some(0));
        assert_eq!(ms_from_iso("2000-02-29T00:00:00.000+00:00"), Some(951_782_400_000));
        assert_eq!(ms_from_iso("1969-12-31T23:59:59.999+00:00"), Some(-1));
        assert_eq!(ms_from_iso("0000-01-01"), Some(-62_167_219_200_000));
    }

    #[test]
    fn rejects_garbage_dates() {
        for s in [
            "",
            "yesterday",
            "2026",
            "2026-1-01",
            "2026-13-01",
            "2026-00-10",
            "2026-02-29",
            "2100-02-29",
            "2026-04-31",
            "2026-01-01T",
            "2026-01-01T24:00:00Z",
            "2026-01-01T12:60:00Z",
            "2026-01-01T12:00:60Z",
            "2026-01-01T12:00:00.Z",
            "2026-01-01T12:00:00+5:00",
            "2026-01-01T12:00:00+24:00",
            "2026-01-01T12:00:00+05:60",
            "2026-01-01T12:00:00Z junk",
            "2026-01-01X12:00:00Z",
            "２026-01-01",
            "-2026-01-01",
        ] {
            assert_eq!(ms_from_iso(s), None, "{s:?}");
        }
    }

    #[test]
    fn iso_round_trips_through_ms() {
        for ms in [0, 1, -1, 951_782_400_000, 1_767_270_896_789, 253_402_300_799_999] {
            assert_eq!(ms_from_iso(&iso_from_ms(ms)), Some(ms));
        }
    }

    // Our calendar code against `jiff`'s (a dev-dependency only: in the Worker it would cost
    // 58 KB gzipped, ARCHITECTURE.md "Chosen dependencies").
    mod against_jiff {
        use super::super::*;
        use proptest::prelude::*;

        /// 0001-01-01 to 9999-12-31.
        const RANGE: std::ops::RangeInclusive<i64> = -62_135_596_800_000..=253_402_300_799_999;

        proptest! {
            #[test]
            fn formatting_matches(ms in RANGE) {
                let expected = jiff::Timestamp::from_millisecond(ms).unwrap().strftime("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string();
                prop_assert_eq!(iso_from_ms(ms), expected);
                let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
                let date = jiff::Timestamp::from_millisecond(ms).unwrap().to_zoned(jiff::tz::TimeZone::UTC).date();
                prop_assert_eq!((y, m, d), (i64::from(date.year()), date.month() as u32, date.day() as u32));
            }

            #[test]
            fn parsing_offsets_matches(ms in RANGE, offset_minutes in -(23 * 60 + 59)..=(23 * 60 + 59i32)) {
                let t = jiff::Timestamp::from_millisecond(ms).unwrap();
                let offset = jiff::tz::Offset::from_seconds(offset_minutes * 60).unwrap();
                let text = t.to_zoned(jiff::tz::TimeZone::fixed(offset)).strftime("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string();
                prop_assert_eq!(ms_from_iso(&text), Some(ms), "{}", text);
                prop_assert_eq!(text.parse::<jiff::Timestamp>().unwrap().as_millisecond(), ms);
            }
        }
    }
}
