//! Function schedules: five-field cron expressions (minute, hour, day of month, month, day of
//! week; `*`, `?`, `*/n`, `a`, `a-b`, `a-b/n`, lists, month and weekday names) and the macros
//! (`@hourly` … `@yearly`), evaluated in UTC. Kept over the `croner` crate, which Appwrite's
//! cron library matches more closely (`L`, `W`, `#`) but adds 20 KB gzipped to the Worker
//! (ARCHITECTURE.md).

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// Cron's rule: when both day fields are restricted, either may match.
    either_day: bool,
}

const MONTHS: [&str; 12] =
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// A field with its month or weekday names (any case) as numbers, and `?` as `*`.
fn numbered(text: &str, names: &[&str], first: usize) -> String {
    let mut out = text.to_ascii_uppercase();
    for (i, name) in names.iter().enumerate() {
        out = out.replace(name, &(i + first).to_string());
    }
    if out == "?" {
        out = "*".into();
    }
    out
}

fn field(text: &str, min: u32, max: u32) -> Result<u64, String> {
    let mut bits = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().map_err(|_| format!("bad step in {item:?}"))?),
            None => (item, 1),
        };
        if step == 0 {
            return Err(format!("bad step in {item:?}"));
        }
        let (from, to) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let a = a.parse::<u32>().map_err(|_| format!("bad value {a:?}"))?;
            let b = b.parse::<u32>().map_err(|_| format!("bad value {b:?}"))?;
            (a, b)
        } else {
            let v = range.parse::<u32>().map_err(|_| format!("bad value {range:?}"))?;
            (v, if item.contains('/') { max } else { v })
        };
        // Day of week 7 is Sunday, as 0.
        let (from, to) = if max == 6 && to == 7 {
            bits |= 1;
            if from == 7 {
                continue;
            }
            (from, 6)
        } else {
            (from, to)
        };
        if from < min || to > max || from > to {
            return Err(format!("{item:?} is outside {min}-{max}"));
        }
        let mut v = from;
        while v <= to {
            bits |= 1 << v;
            let Some(next) = v.checked_add(step) else { break };
            v = next;
        }
    }
    Ok(bits)
}

impl Cron {
    pub fn parse(text: &str) -> Result<Cron, String> {
        let text = match text.trim().to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            _ => text,
        };
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [m, h, dom, mon, dow] = parts.as_slice() else {
            return Err("expected five fields: minute hour day-of-month month day-of-week".into());
        };
        let (dom, mon, dow) = (numbered(dom, &[], 0), numbered(mon, &MONTHS, 1), numbered(dow, &WEEKDAYS, 0));
        Ok(Cron {
            minutes: field(m, 0, 59)?,
            hours: field(h, 0, 23)?,
            days: field(&dom, 1, 31)?,
            months: field(&mon, 1, 12)?,
            weekdays: field(&dow, 0, 6)?,
            either_day: dom != "*" && dow != "*",
        })
    }

    /// Whether the schedule fires in the minute holding `ms` (unix milliseconds, UTC).
    pub fn fires_at(&self, ms: i64) -> bool {
        let minutes = ms.div_euclid(60_000);
        let days = minutes.div_euclid(1440);
        let (minute, hour) = (minutes.rem_euclid(60) as u32, (minutes.div_euclid(60)).rem_euclid(24) as u32);
        // 1970-01-01 was a Thursday.
        let weekday = (days + 4).rem_euclid(7) as u32;
        let (_, month, day) = edgewrite_core::time::civil_from_days(days);
        let day_ok = if self.either_day {
            self.days & (1 << day) != 0 || self.weekdays & (1 << weekday) != 0
        } else {
            self.days & (1 << day) != 0 && self.weekdays & (1 << weekday) != 0
        };
        self.minutes & (1 << minute) != 0
            && self.hours & (1 << hour) != 0
            && self.months & (1 << month) != 0
            && day_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(iso: &str) -> i64 {
        edgewrite_core::time::ms_from_iso(iso).unwrap()
    }

    #[test]
    fn every_minute_and_steps() {
        let every = Cron::parse("* * * * *").unwrap();
        assert!(every.fires_at(at("2026-11-26T03:07:00.000+00:00")));
        let quarter = Cron::parse("*/15 * * * *").unwrap();
        assert!(quarter.fires_at(at("2026-11-26T03:30:10.000+00:00")));
        assert!(!quarter.fires_at(at("2026-11-26T03:31:00.000+00:00")));
    }

    #[test]
    fn days_months_and_weekdays() {
        // 2026-11-26 is a Thursday.
        let thursdays = Cron::parse("0 9 * * 4").unwrap();
        assert!(thursdays.fires_at(at("2026-11-26T09:00:00.000+00:00")));
        assert!(!thursdays.fires_at(at("2026-11-27T09:00:00.000+00:00")));
        let first_of_december = Cron::parse("30 0 1 12 *").unwrap();
        assert!(first_of_december.fires_at(at("2026-12-01T00:30:00.000+00:00")));
        assert!(!first_of_december.fires_at(at("2026-11-01T00:30:00.000+00:00")));
        let sunday = Cron::parse("0 0 * * 7").unwrap();
        assert!(sunday.fires_at(at("2026-11-29T00:00:00.000+00:00")));
    }

    #[test]
    fn names_question_marks_and_macros() {
        let weekdays = Cron::parse("0 9 ? * mon-FRI").unwrap();
        assert_eq!(weekdays, Cron::parse("0 9 * * 1-5").unwrap());
        assert_eq!(Cron::parse("0 0 1 jan,Jul *").unwrap(), Cron::parse("0 0 1 1,7 *").unwrap());
        assert_eq!(Cron::parse("0 0 * * SUN").unwrap(), Cron::parse("0 0 * * 0").unwrap());
        for (alias, plain) in [
            ("@yearly", "0 0 1 1 *"),
            ("@annually", "0 0 1 1 *"),
            ("@monthly", "0 0 1 * *"),
            ("@weekly", "0 0 * * 0"),
            ("@daily", "0 0 * * *"),
            ("@midnight", "0 0 * * *"),
            ("@HOURLY", "0 * * * *"),
        ] {
            assert_eq!(Cron::parse(alias).unwrap(), Cron::parse(plain).unwrap(), "{alias}");
        }
        assert!(Cron::parse("@never").is_err());
        assert!(Cron::parse("0 0 * * FUN").is_err());
    }

    #[test]
    fn bad_expressions_say_why() {
        for bad in ["", "* * * *", "60 * * * *", "*/0 * * * *", "a * * * *", "5-1 * * * *", "* * 0 * *"] {
            assert!(Cron::parse(bad).is_err(), "{bad}");
        }
    }
}
