//! The periods daily and monthly budgets count over: the UTC day and the UTC calendar month
//! containing an instant, as half-open `[start, end)` windows.
//!
//! Budgets are kept in UTC (Foreman has no configured time zone), so a store summing spend for a
//! reservation, the daemon deciding whether intake is paused and the daily spend report all use
//! these windows.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::error::{StoreError, StoreResult};

/// The longest range [`daily_range`] accepts, in days (about ten years).
pub const MAX_DAILY_RANGE_DAYS: i64 = 3660;

/// A half-open window of time `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The first instant inside.
    pub start: DateTime<Utc>,
    /// The first instant after.
    pub end: DateTime<Utc>,
}

impl Window {
    /// Whether `t` falls inside.
    #[must_use]
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// The UTC day containing `at`.
#[must_use]
pub fn day_window(at: DateTime<Utc>) -> Window {
    day_of(at.date_naive())
}

/// The UTC day `date`.
#[must_use]
pub fn day_of(date: NaiveDate) -> Window {
    let start = midnight(date);
    Window {
        start,
        end: date.succ_opt().map_or(DateTime::<Utc>::MAX_UTC, midnight),
    }
}

/// The UTC calendar month containing `at`.
#[must_use]
pub fn month_window(at: DateTime<Utc>) -> Window {
    let day = at.date_naive();
    let first = day.with_day(1).unwrap_or(day);
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    };
    Window {
        start: midnight(first),
        end: next.map_or(DateTime::<Utc>::MAX_UTC, midnight),
    }
}

/// The days `from..=to` of a daily spend report.
///
/// # Errors
/// [`StoreError::Invalid`] when `from` is after `to` or the range is longer than
/// [`MAX_DAILY_RANGE_DAYS`].
pub fn daily_range(from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<NaiveDate>> {
    if from > to {
        return Err(StoreError::Invalid(format!(
            "daily spend range starts {from} after it ends {to}"
        )));
    }
    if (to - from).num_days() > MAX_DAILY_RANGE_DAYS {
        return Err(StoreError::Invalid(
            "daily spend range is longer than ten years".into(),
        ));
    }
    Ok(from.iter_days().take_while(|d| *d <= to).collect())
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Timelike};
    use proptest::prelude::*;

    use super::*;

    fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn months_roll_over_years_and_leap_days() {
        let dec = month_window(utc(2026, 12, 31, 23));
        assert_eq!(dec.start, utc(2026, 12, 1, 0));
        assert_eq!(dec.end, utc(2027, 1, 1, 0));
        let feb = month_window(utc(2028, 2, 29, 12));
        assert_eq!(feb.start, utc(2028, 2, 1, 0));
        assert_eq!(feb.end, utc(2028, 3, 1, 0));
    }

    #[test]
    fn days_are_half_open() {
        let w = day_window(utc(2026, 3, 5, 0));
        assert_eq!(w.start, utc(2026, 3, 5, 0));
        assert_eq!(w.end, utc(2026, 3, 6, 0));
        assert!(w.contains(w.start));
        assert!(!w.contains(w.end));
    }

    #[test]
    fn daily_ranges_are_checked() {
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        assert_eq!(daily_range(d(1, 30), d(2, 2)).unwrap().len(), 4);
        assert!(matches!(
            daily_range(d(2, 2), d(1, 30)),
            Err(StoreError::Invalid(_))
        ));
        let far = NaiveDate::from_ymd_opt(2040, 1, 1).unwrap();
        assert!(daily_range(d(1, 1), far).is_err());
    }

    proptest! {
        #[test]
        fn windows_contain_their_instant(secs in 0i64..4_102_444_800) {
            let at = DateTime::<Utc>::from_timestamp(secs, 0).unwrap();
            let day = day_window(at);
            let month = month_window(at);
            prop_assert!(day.contains(at));
            prop_assert!(month.contains(at));
            prop_assert!(month.start <= day.start && day.end <= month.end);
            prop_assert_eq!((day.end - day.start).num_hours(), 24);
            prop_assert_eq!(day.start.hour(), 0);
            prop_assert_eq!(month.start.day(), 1);
            prop_assert_eq!(month.end.day(), 1);
            // the next month starts where this one ends
            prop_assert_eq!(month_window(month.end).start, month.end);
        }
    }
}
