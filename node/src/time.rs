//! Times as people type them on the command line (`memo show --at`), in
//! seconds since the Unix epoch, UTC:
//!
//! - a date and time: `2026-11-21T14:05:30Z`, `2026-11-21 14:05`,
//!   `2026-11-21` (midnight); a `Z` or nothing means UTC, and other
//!   offsets are not taken;
//! - a duration ago: `90s ago`, `10m ago`, `2h ago`, `3d ago` (or
//!   `10 minutes ago`; `ago` may be left out);
//! - seconds since the epoch: `@1795000000`.

/// The time `text` names, `now` being the current time; `None` if it is
/// none of the forms above.
pub fn parse(text: &str, now: u64) -> Option<u64> {
    let text = text.trim();
    if let Some(seconds) = text.strip_prefix('@') {
        return seconds.parse().ok();
    }
    ago(text).map(|seconds| now.saturating_sub(seconds)).or_else(|| date_time(text))
}

/// `10m ago`, `2 hours ago`, `3d`: the seconds it names.
fn ago(text: &str) -> Option<u64> {
    let text = text.strip_suffix("ago").unwrap_or(text).trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (count, unit) = text.split_at(split);
    let unit = match unit.trim() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 7 * 86_400,
        _ => return None,
    };
    count.parse::<u64>().ok()?.checked_mul(unit)
}

/// `YYYY-MM-DD[(T| )HH:MM[:SS]][Z]`, UTC.
fn date_time(text: &str) -> Option<u64> {
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = match text.split_once(['T', ' ']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut date = date.splitn(3, '-').map(|part| part.parse::<u64>().ok());
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) || !(1..=days_in(year, month)).contains(&day) {
        return None;
    }
    let mut clock = [0u64; 3];
    if let Some(time) = time {
        let parts: Vec<&str> = time.split(':').collect();
        if !(2..=3).contains(&parts.len()) {
            return None;
        }
        for (slot, part) in clock.iter_mut().zip(&parts) {
            *slot = part.parse().ok()?;
        }
    }
    let [hours, minutes, seconds] = clock;
    if hours > 23 || minutes > 59 || seconds > 60 {
        return None;
    }
    Some(days_since_epoch(year, month, day) * 86_400 + hours * 3_600 + minutes * 60 + seconds)
}

/// `seconds` since the epoch as `YYYY-MM-DD HH:MM:SSZ` (UTC).
pub fn format(seconds: u64) -> String {
    let (days, clock) = (seconds / 86_400, seconds % 86_400);
    // Howard Hinnant's `civil_from_days`, the inverse of `days_since_epoch`.
    let z = days + 719_468;
    let (era, day_of_era) = (z / 146_097, z % 146_097);
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z", clock / 3_600, clock / 60 % 60, clock % 60)
}

fn days_in(year: u64, month: u64) -> u64 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar
/// (Howard Hinnant's `days_from_civil`, for dates from 1970 on).
fn days_since_epoch(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse;

    const NOW: u64 = 1_795_000_000;

    #[test]
    fn dates_and_times_are_utc_seconds() {
        assert_eq!(parse("1970-01-01", NOW), Some(0));
        assert_eq!(parse("2000-03-01T00:00:00Z", NOW), Some(951_868_800));
        assert_eq!(parse("2024-02-29 12:30", NOW), Some(1_709_209_800));
        assert_eq!(parse("2026-11-21T14:05:30", NOW), Some(1_795_269_930));
    }

    #[test]
    fn durations_count_back_from_now() {
        assert_eq!(parse("90s ago", NOW), Some(NOW - 90));
        assert_eq!(parse("10 minutes ago", NOW), Some(NOW - 600));
        assert_eq!(parse("2h", NOW), Some(NOW - 7_200));
        assert_eq!(parse("3d ago", NOW), Some(NOW - 3 * 86_400));
        assert_eq!(parse("@12345", NOW), Some(12_345));
    }

    #[test]
    fn format_is_the_inverse_of_parse() {
        for text in ["1970-01-01 00:00:00Z", "2000-02-29 23:59:59Z", "2026-11-21 14:05:30Z", "2100-03-01 00:00:00Z"] {
            assert_eq!(super::format(parse(text, NOW).unwrap()), text);
        }
    }

    #[test]
    fn anything_else_is_none() {
        for text in ["", "yesterday", "2023-02-29", "2026-13-01", "2026-11-21T25:00", "10 parsecs ago", "1.5h", "ago"] {
            assert_eq!(parse(text, NOW), None, "{text:?}");
        }
    }
}
