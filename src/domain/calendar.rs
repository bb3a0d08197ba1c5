//! Business-hours calendars: when a team works, and the arithmetic SLA clocks need on
//! top of that ("which instant is 4 working hours after this one?", "how much working
//! time lies between these two instants?").
//!
//! A [`Calendar`] is weekly working hours plus holidays, in one fixed local time given
//! as an offset from UTC. **Daylight saving time is not modelled**: a team whose local
//! time shifts twice a year needs its offset edited (or two calendars); until then the
//! hours are off by the shift. Holidays are local dates and remove the whole local day.
//!
//! Everything here is pure arithmetic on [`Timestamp`]s (unix microseconds). It works
//! in microseconds internally, so `add_business` and `business_secs_between` round-trip
//! exactly, and it skips whole holiday-free weeks at once, so even targets of years on
//! a calendar with one working hour a week cost a handful of steps. It always
//! terminates: a calendar without any working time (which [`Calendar::validate`]
//! rejects) never reaches a target, which `add_business` reports as the largest
//! timestamp.
//!
//! Over 600 lines with its unit tests (the time arithmetic itself is under 500).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ids::Timestamp;

/// Minutes in a day; `end_minute` may be this (midnight at the end of the day).
pub const MINUTES_PER_DAY: u16 = 1440;
/// The furthest a calendar's fixed offset may be from UTC, in minutes (±14 h).
pub const MAX_OFFSET_MINUTES: i32 = 14 * 60;
/// Longest calendar id, in bytes.
pub const MAX_ID: usize = 64;

const MICROS_PER_SEC: i128 = 1_000_000;
const MICROS_PER_MIN: i128 = 60 * MICROS_PER_SEC;
const MICROS_PER_DAY: i128 = 1440 * MICROS_PER_MIN;
/// 1970-01-01 was a Thursday (Monday = 0).
const EPOCH_WEEKDAY: i128 = 3;
/// The Julian day number of 1970-01-01.
const EPOCH_JULIAN_DAY: i128 = 2_440_588;

/// One working interval on a weekday, in local minutes since midnight: `[start, end)`.
/// A shift across midnight is two intervals, one on each day.
///
/// Binary formats (the log) store the three integers. Human-readable ones (JSON
/// payloads, `swarmdesk.toml`) use the GraphQL API's `WorkingHoursInput` form,
/// `{ weekday = "MONDAY", start = "09:00", end = "17:00" }`, and still read the
/// integer form of earlier builds (`weekday = 0, start_minute = 540, ...`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WorkingHours {
    /// 0 = Monday .. 6 = Sunday.
    pub weekday: u8,
    pub start_minute: u16,
    /// Exclusive; at most [`MINUTES_PER_DAY`].
    pub end_minute: u16,
}

/// The API's weekday names, Monday (0) first.
pub const WEEKDAY_NAMES: [&str; 7] = [
    "MONDAY",
    "TUESDAY",
    "WEDNESDAY",
    "THURSDAY",
    "FRIDAY",
    "SATURDAY",
    "SUNDAY",
];

/// `HH:MM` (`00:00` to `24:00`) as minutes since midnight.
pub fn parse_hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    if m >= 60 || h > 24 || (h == 24 && m > 0) {
        return None;
    }
    Some(h * 60 + m)
}

/// Minutes since midnight as `HH:MM`.
pub fn fmt_hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// The stored layout: field order and types fix the postcard bytes.
#[derive(Serialize, Deserialize)]
struct WorkingHoursStored {
    weekday: u8,
    start_minute: u16,
    end_minute: u16,
}

#[derive(Serialize)]
struct WorkingHoursText {
    weekday: &'static str,
    start: String,
    end: String,
}

/// Either spelling of a weekday: the API's name or an earlier build's index.
#[derive(Deserialize)]
#[serde(untagged)]
enum WeekdayText {
    Index(u8),
    Name(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WorkingHoursTextIn {
    weekday: WeekdayText,
    start: Option<String>,
    end: Option<String>,
    #[serde(alias = "start_minute")]
    start_minute: Option<u16>,
    #[serde(alias = "end_minute")]
    end_minute: Option<u16>,
}

impl Serialize for WorkingHours {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            match WEEKDAY_NAMES.get(usize::from(self.weekday)) {
                Some(weekday) => WorkingHoursText {
                    weekday,
                    start: fmt_hhmm(self.start_minute),
                    end: fmt_hhmm(self.end_minute),
                }
                .serialize(serializer),
                // Never valid (validate refuses it); shown as stored rather than hidden.
                None => self.stored().serialize(serializer),
            }
        } else {
            self.stored().serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for WorkingHours {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        if !deserializer.is_human_readable() {
            let s = WorkingHoursStored::deserialize(deserializer)?;
            return Ok(WorkingHours {
                weekday: s.weekday,
                start_minute: s.start_minute,
                end_minute: s.end_minute,
            });
        }
        let t = WorkingHoursTextIn::deserialize(deserializer)?;
        let weekday = match t.weekday {
            WeekdayText::Index(i) => i,
            WeekdayText::Name(name) => WEEKDAY_NAMES
                .iter()
                .position(|d| d.eq_ignore_ascii_case(name.trim()))
                .ok_or_else(|| {
                    D::Error::custom(format!("`{name}` is not a weekday (MONDAY .. SUNDAY)"))
                })? as u8,
        };
        let minute =
            |text: Option<String>, minutes: Option<u16>, field: &'static str| match (text, minutes)
            {
                (Some(s), None) => parse_hhmm(&s)
                    .ok_or_else(|| D::Error::custom(format!("`{s}` is not a time of day (HH:MM)"))),
                (None, Some(m)) => Ok(m),
                (None, None) => Err(D::Error::missing_field(field)),
                (Some(_), Some(_)) => Err(D::Error::custom(format!(
                    "working hours give `{field}` twice"
                ))),
            };
        Ok(WorkingHours {
            weekday,
            start_minute: minute(t.start, t.start_minute, "start")?,
            end_minute: minute(t.end, t.end_minute, "end")?,
        })
    }
}

impl WorkingHours {
    fn stored(&self) -> WorkingHoursStored {
        WorkingHoursStored {
            weekday: self.weekday,
            start_minute: self.start_minute,
            end_minute: self.end_minute,
        }
    }
}

/// When a team works: weekly hours and holidays in a fixed local time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Calendar {
    pub id: String,
    /// Local time minus UTC, in minutes (e.g. 60 for UTC+01:00). No DST.
    #[serde(default, alias = "utc_offset_minutes")]
    pub utc_offset_minutes: i32,
    pub hours: Vec<WorkingHours>,
    /// Local dates (`YYYY-MM-DD`) with no working time at all.
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// Why a calendar is not usable.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum CalendarError {
    #[error("`{0}` is not a valid calendar id (1-{MAX_ID} letters, digits, . _ -)")]
    BadId(String),
    #[error("UTC offset of {0} minutes is beyond ±14 hours")]
    BadOffset(i32),
    #[error("weekday {0} does not exist (0 = Monday .. 6 = Sunday)")]
    BadWeekday(u8),
    #[error("working hours {start}-{end} on weekday {weekday}: minutes must be 0..=1440")]
    MinuteOutOfRange { weekday: u8, start: u16, end: u16 },
    #[error("working hours {start}-{end} on weekday {weekday} are empty")]
    EmptyInterval { weekday: u8, start: u16, end: u16 },
    #[error("working hours on weekday {weekday} overlap: {first:?} and {second:?}")]
    Overlap {
        weekday: u8,
        first: (u16, u16),
        second: (u16, u16),
    },
    #[error("holiday `{0}` is not a date (YYYY-MM-DD)")]
    BadHoliday(String),
    #[error("calendar `{0}` has no working time")]
    NoWorkingTime(String),
}

impl Calendar {
    /// The id of [`Calendar::always`].
    pub const ALWAYS_ID: &'static str = "24x7";

    /// Every minute of every day counts: business time is plain elapsed time.
    pub fn always() -> Self {
        Calendar {
            id: Self::ALWAYS_ID.into(),
            utc_offset_minutes: 0,
            hours: (0..7)
                .map(|weekday| WorkingHours {
                    weekday,
                    start_minute: 0,
                    end_minute: MINUTES_PER_DAY,
                })
                .collect(),
            holidays: Vec::new(),
        }
    }

    /// Checks the id, offset, intervals (in range, non-empty, no overlaps per day),
    /// holiday dates, and that some working time remains.
    pub fn validate(&self) -> Result<(), CalendarError> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
        if self.id.is_empty() || self.id.len() > MAX_ID || !self.id.chars().all(ok_char) {
            return Err(CalendarError::BadId(self.id.clone()));
        }
        if self.utc_offset_minutes.abs() > MAX_OFFSET_MINUTES {
            return Err(CalendarError::BadOffset(self.utc_offset_minutes));
        }
        let mut per_day: [Vec<(u16, u16)>; 7] = Default::default();
        for h in &self.hours {
            let (weekday, start, end) = (h.weekday, h.start_minute, h.end_minute);
            if weekday > 6 {
                return Err(CalendarError::BadWeekday(weekday));
            }
            if start > MINUTES_PER_DAY || end > MINUTES_PER_DAY {
                return Err(CalendarError::MinuteOutOfRange {
                    weekday,
                    start,
                    end,
                });
            }
            if start >= end {
                return Err(CalendarError::EmptyInterval {
                    weekday,
                    start,
                    end,
                });
            }
            per_day[weekday as usize].push((start, end));
        }
        for (weekday, day) in per_day.iter_mut().enumerate() {
            day.sort_unstable();
            if let Some(w) = day.windows(2).find(|w| w[1].0 < w[0].1) {
                return Err(CalendarError::Overlap {
                    weekday: weekday as u8,
                    first: w[0],
                    second: w[1],
                });
            }
        }
        for d in &self.holidays {
            parse_day(d).ok_or_else(|| CalendarError::BadHoliday(d.clone()))?;
        }
        if per_day.iter().all(Vec::is_empty) {
            return Err(CalendarError::NoWorkingTime(self.id.clone()));
        }
        Ok(())
    }

    /// The instant at which `secs` seconds of working time have elapsed after `start`.
    /// Outside working hours the clock starts at the next opening; `secs <= 0` gives
    /// `start` itself. Saturates at the largest timestamp (e.g. no working time).
    pub fn add_business(&self, start: Timestamp, secs: i64) -> Timestamp {
        self.schedule()
            .add(start, secs.max(0) as i128 * MICROS_PER_SEC)
    }

    /// Whole seconds of working time in `[a, b)`; 0 when `b <= a`.
    pub fn business_secs_between(&self, a: Timestamp, b: Timestamp) -> i64 {
        let micros = self.schedule().between(a, b);
        i64::try_from(micros / MICROS_PER_SEC).unwrap_or(i64::MAX)
    }

    /// The calendar in the form the arithmetic uses. Compile once to do several sums.
    pub(crate) fn schedule(&self) -> Schedule {
        Schedule::new(self)
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
fn parse_day(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b[r.clone()]
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| s[r].parse::<i32>().ok())
            .flatten()
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let month = time::Month::try_from(u8::try_from(m).ok()?).ok()?;
    let date = time::Date::from_calendar_date(y, month, u8::try_from(d).ok()?).ok()?;
    Some(date.to_julian_day() as i128 - EPOCH_JULIAN_DAY)
}

fn to_timestamp(micros: i128) -> Timestamp {
    Timestamp(micros.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

/// A calendar compiled for arithmetic: merged, sorted intervals per weekday in
/// microseconds, weekly total, sorted holiday day numbers. Invalid entries of an
/// unvalidated calendar are ignored and overlaps merged, so the sums stay consistent.
#[derive(Clone, Debug)]
pub(crate) struct Schedule {
    offset: i128,
    days: [Vec<(i128, i128)>; 7],
    week_total: i128,
    holidays: Vec<i128>,
}

impl Schedule {
    fn new(cal: &Calendar) -> Self {
        let mut days: [Vec<(i128, i128)>; 7] = Default::default();
        for h in &cal.hours {
            let (start, end) = (
                h.start_minute.min(MINUTES_PER_DAY),
                h.end_minute.min(MINUTES_PER_DAY),
            );
            if h.weekday < 7 && start < end {
                days[h.weekday as usize]
                    .push((start as i128 * MICROS_PER_MIN, end as i128 * MICROS_PER_MIN));
            }
        }
        for day in &mut days {
            day.sort_unstable();
            let mut merged: Vec<(i128, i128)> = Vec::with_capacity(day.len());
            for &(s, e) in day.iter() {
                match merged.last_mut() {
                    Some(last) if s <= last.1 => last.1 = last.1.max(e),
                    _ => merged.push((s, e)),
                }
            }
            *day = merged;
        }
        let week_total = days.iter().flatten().map(|(s, e)| e - s).sum();
        let mut holidays: Vec<i128> = cal.holidays.iter().filter_map(|d| parse_day(d)).collect();
        holidays.sort_unstable();
        holidays.dedup();
        Schedule {
            offset: cal.utc_offset_minutes as i128 * MICROS_PER_MIN,
            days,
            week_total,
            holidays,
        }
    }

    fn weekday(day: i128) -> usize {
        (day + EPOCH_WEEKDAY).rem_euclid(7) as usize
    }

    fn is_holiday(&self, day: i128) -> bool {
        self.holidays.binary_search(&day).is_ok()
    }

    /// How many whole weeks from `day` on contain no holiday.
    fn free_weeks(&self, day: i128) -> i128 {
        let i = self.holidays.partition_point(|h| *h < day);
        match self.holidays.get(i) {
            Some(h) => (h - day) / 7,
            None => i128::MAX,
        }
    }

    /// The instant `micros` of working time after `start`.
    pub(crate) fn add(&self, start: Timestamp, micros: i128) -> Timestamp {
        if micros <= 0 {
            return start;
        }
        if self.week_total == 0 {
            return Timestamp(i64::MAX);
        }
        let local = start.0 as i128 + self.offset;
        let mut day = local.div_euclid(MICROS_PER_DAY);
        let mut from = local.rem_euclid(MICROS_PER_DAY);
        let mut remaining = micros;
        loop {
            if from == 0 && remaining > self.week_total {
                // Leave at least one microsecond for the day-by-day walk below.
                let weeks = ((remaining - 1) / self.week_total).min(self.free_weeks(day));
                day += 7 * weeks;
                remaining -= weeks * self.week_total;
            }
            if !self.is_holiday(day) {
                for &(s, e) in &self.days[Self::weekday(day)] {
                    if from >= e {
                        continue;
                    }
                    let begin = from.max(s);
                    if e - begin >= remaining {
                        return to_timestamp(
                            day * MICROS_PER_DAY + begin + remaining - self.offset,
                        );
                    }
                    remaining -= e - begin;
                }
            }
            day += 1;
            from = 0;
        }
    }

    /// Microseconds of working time in `[a, b)`.
    pub(crate) fn between(&self, a: Timestamp, b: Timestamp) -> i128 {
        if b <= a {
            return 0;
        }
        let (la, lb) = (a.0 as i128 + self.offset, b.0 as i128 + self.offset);
        let (first, last) = (la.div_euclid(MICROS_PER_DAY), lb.div_euclid(MICROS_PER_DAY));
        let mut day = first;
        let mut total = 0;
        while day <= last {
            let from = if day == first {
                la.rem_euclid(MICROS_PER_DAY)
            } else {
                0
            };
            if from == 0 && day + 7 <= last {
                // Days day..day+7 lie wholly inside the range.
                let weeks = ((last - day) / 7).min(self.free_weeks(day));
                if weeks > 0 {
                    total += weeks * self.week_total;
                    day += 7 * weeks;
                    continue;
                }
            }
            let to = if day == last {
                lb.rem_euclid(MICROS_PER_DAY)
            } else {
                MICROS_PER_DAY
            };
            if !self.is_holiday(day) {
                for &(s, e) in &self.days[Self::weekday(day)] {
                    total += (e.min(to) - s.max(from)).max(0);
                }
            }
            day += 1;
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).expect("a valid test time")
    }

    fn hours(weekday: u8, start_h: u16, end_h: u16) -> WorkingHours {
        WorkingHours {
            weekday,
            start_minute: start_h * 60,
            end_minute: end_h * 60,
        }
    }

    /// Monday to Friday 09:00-17:00 at UTC+02:00, with a holiday on Wednesday
    /// 2026-09-16 and another on 2027-01-01.
    fn office() -> Calendar {
        Calendar {
            id: "berlin-office".into(),
            utc_offset_minutes: 120,
            hours: (0..5).map(|d| hours(d, 9, 17)).collect(),
            holidays: vec!["2026-09-16".into(), "2027-01-01".into()],
        }
    }

    /// Split shifts and an odd weekend slot, at a negative offset, with many holidays.
    fn shifts() -> Calendar {
        let mut hours_list = Vec::new();
        for d in 0..5 {
            hours_list.push(WorkingHours {
                weekday: d,
                start_minute: 8 * 60 + 30,
                end_minute: 12 * 60,
            });
            hours_list.push(hours(d, 13, 17));
        }
        hours_list.push(WorkingHours {
            weekday: 6,
            start_minute: 0,
            end_minute: 1,
        });
        Calendar {
            id: "support-shifts".into(),
            utc_offset_minutes: -330,
            hours: hours_list,
            holidays: (1..=28)
                .map(|d| format!("2026-02-{d:02}"))
                .chain(["2026-12-24".into(), "2026-12-25".into()])
                .collect(),
        }
    }

    /// Only Sunday 23:59-24:00 local, at the extreme offset.
    fn sparse() -> Calendar {
        Calendar {
            id: "sparse".into(),
            utc_offset_minutes: 840,
            hours: vec![WorkingHours {
                weekday: 6,
                start_minute: 1439,
                end_minute: 1440,
            }],
            holidays: vec!["2026-09-20".into()],
        }
    }

    #[test]
    fn the_fixtures_are_valid() {
        for c in [office(), shifts(), sparse(), Calendar::always()] {
            assert_eq!(c.validate(), Ok(()), "{}", c.id);
        }
    }

    #[test]
    fn epoch_weekday_and_dates_agree_with_the_time_crate() {
        // 2026-09-14 is a Monday.
        let day = parse_day("2026-09-14").unwrap();
        assert_eq!(Schedule::weekday(day), 0);
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(Schedule::weekday(0), 3, "1970-01-01 was a Thursday");
        assert_eq!(parse_day("1969-12-31"), Some(-1));
        assert_eq!(Schedule::weekday(-1), 2);
    }

    #[test]
    fn validate_rejects_each_kind_of_mistake() {
        let with = |f: &dyn Fn(&mut Calendar)| {
            let mut c = office();
            f(&mut c);
            c.validate()
        };
        assert_eq!(
            with(&|c| c.id = String::new()),
            Err(CalendarError::BadId(String::new()))
        );
        assert!(matches!(
            with(&|c| c.id = "a b".into()),
            Err(CalendarError::BadId(_))
        ));
        assert_eq!(
            with(&|c| c.utc_offset_minutes = 841),
            Err(CalendarError::BadOffset(841))
        );
        assert_eq!(
            with(&|c| c.utc_offset_minutes = -841),
            Err(CalendarError::BadOffset(-841))
        );
        assert_eq!(with(&|c| c.utc_offset_minutes = -840), Ok(()));
        assert_eq!(
            with(&|c| c.hours.push(hours(7, 9, 10))),
            Err(CalendarError::BadWeekday(7))
        );
        assert_eq!(
            with(&|c| c.hours.push(WorkingHours {
                weekday: 5,
                start_minute: 0,
                end_minute: 1441
            })),
            Err(CalendarError::MinuteOutOfRange {
                weekday: 5,
                start: 0,
                end: 1441
            })
        );
        assert_eq!(
            with(&|c| c.hours.push(hours(5, 10, 10))),
            Err(CalendarError::EmptyInterval {
                weekday: 5,
                start: 600,
                end: 600
            })
        );
        assert_eq!(
            with(&|c| c.hours.push(hours(5, 11, 10))),
            Err(CalendarError::EmptyInterval {
                weekday: 5,
                start: 660,
                end: 600
            })
        );
        assert_eq!(
            with(&|c| c.hours.push(hours(0, 16, 18))),
            Err(CalendarError::Overlap {
                weekday: 0,
                first: (540, 1020),
                second: (960, 1080)
            })
        );
        // Touching intervals are fine.
        assert_eq!(with(&|c| c.hours.push(hours(0, 17, 18))), Ok(()));
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "2026-1-01",
            "26-01-01",
            "2026/01/01",
            "",
            "2026-01-0x",
        ] {
            assert_eq!(
                with(&|c| c.holidays.push(bad.into())),
                Err(CalendarError::BadHoliday(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(with(&|c| c.holidays.push("2028-02-29".into())), Ok(()));
        assert_eq!(
            with(&|c| c.hours.clear()),
            Err(CalendarError::NoWorkingTime("berlin-office".into()))
        );
    }

    #[test]
    fn add_business_inside_hours_and_across_the_night() {
        let c = office();
        // Monday 10:00 local (08:00Z) + 2 h = 12:00 local.
        assert_eq!(
            c.add_business(ts("2026-09-14T08:00:00Z"), 7200),
            ts("2026-09-14T10:00:00Z")
        );
        // Monday 16:00 local + 2 h = Tuesday 10:00 local.
        assert_eq!(
            c.add_business(ts("2026-09-14T14:00:00Z"), 7200),
            ts("2026-09-15T08:00:00Z")
        );
        // Exactly reaching the end of the day stops there.
        assert_eq!(
            c.add_business(ts("2026-09-14T14:00:00Z"), 3600),
            ts("2026-09-14T15:00:00Z")
        );
    }

    #[test]
    fn add_business_outside_hours_starts_at_the_next_opening() {
        let c = office();
        // Saturday noon local + 1 h = Monday 10:00 local.
        assert_eq!(
            c.add_business(ts("2026-09-19T10:00:00Z"), 3600),
            ts("2026-09-21T08:00:00Z")
        );
        // Monday 07:00 local + 30 min = 09:30 local.
        assert_eq!(
            c.add_business(ts("2026-09-14T05:00:00Z"), 1800),
            ts("2026-09-14T07:30:00Z")
        );
        assert_eq!(
            c.add_business(ts("2026-09-19T10:00:00Z"), 0),
            ts("2026-09-19T10:00:00Z")
        );
    }

    #[test]
    fn holidays_are_skipped() {
        let c = office();
        // Tuesday 16:00 local + 2 h: Wednesday is a holiday, so Thursday 10:00 local.
        assert_eq!(
            c.add_business(ts("2026-09-15T14:00:00Z"), 7200),
            ts("2026-09-17T08:00:00Z")
        );
        // The holiday contributes nothing; Tuesday 16-17 and Thursday 9-10 do.
        assert_eq!(
            c.business_secs_between(ts("2026-09-15T14:00:00Z"), ts("2026-09-17T08:00:00Z")),
            7200
        );
        let mut no_holiday = c.clone();
        no_holiday.holidays.clear();
        assert_eq!(
            no_holiday.add_business(ts("2026-09-15T14:00:00Z"), 7200),
            ts("2026-09-16T08:00:00Z")
        );
    }

    #[test]
    fn the_offset_decides_which_local_day_an_instant_is_on() {
        let c = office();
        // Monday 23:30Z is Tuesday 01:30 local: next opening Tuesday 09:00 local.
        assert_eq!(
            c.add_business(ts("2026-09-14T23:30:00Z"), 60),
            ts("2026-09-15T07:01:00Z")
        );
        // Tuesday 23:30Z is the holiday Wednesday 01:30 local: Thursday 09:00 local.
        assert_eq!(
            c.add_business(ts("2026-09-15T23:30:00Z"), 60),
            ts("2026-09-17T07:01:00Z")
        );
    }

    #[test]
    fn long_targets_skip_whole_weeks() {
        let c = office();
        // 40 working hours a week: 400 h from Monday 09:00 local is ten weeks later.
        let start = ts("2026-09-21T07:00:00Z");
        let end = c.add_business(start, 400 * 3600);
        // Ten weeks minus the weekend at the end: Friday 17:00 local of week ten.
        assert_eq!(end, ts("2026-11-27T15:00:00Z"));
        assert_eq!(c.business_secs_between(start, end), 400 * 3600);
        // Years on a calendar with one working minute a week still terminate quickly.
        let s = sparse();
        let far = s.add_business(ts("2026-01-01T00:00:00Z"), 60 * 52 * 100);
        assert_eq!(
            s.business_secs_between(ts("2026-01-01T00:00:00Z"), far),
            60 * 52 * 100
        );
    }

    #[test]
    fn no_working_time_never_arrives_and_never_hangs() {
        let mut c = office();
        c.hours.clear();
        assert_eq!(
            c.add_business(ts("2026-09-14T08:00:00Z"), 1),
            Timestamp(i64::MAX)
        );
        assert_eq!(
            c.business_secs_between(ts("2026-09-14T08:00:00Z"), ts("2027-09-14T08:00:00Z")),
            0
        );
        // Every day a holiday for a while: still terminates, after the holidays.
        let mut h = office();
        h.holidays = (1..=30).map(|d| format!("2026-09-{d:02}")).collect();
        assert_eq!(
            h.add_business(ts("2026-09-01T00:00:00Z"), 60),
            ts("2026-10-01T07:01:00Z")
        );
    }

    #[test]
    fn between_is_zero_for_empty_or_reversed_ranges() {
        let c = Calendar::always();
        let t = ts("2026-09-14T08:00:00Z");
        assert_eq!(c.business_secs_between(t, t), 0);
        assert_eq!(c.business_secs_between(t.plus_secs(10), t), 0);
    }

    #[test]
    fn unvalidated_overlaps_are_merged_not_double_counted() {
        let mut c = office();
        c.hours.push(hours(0, 8, 10));
        // Monday 08:00-17:00 local is 9 h, not 10.
        assert_eq!(
            c.business_secs_between(ts("2026-09-14T00:00:00Z"), ts("2026-09-14T22:00:00Z")),
            9 * 3600
        );
    }

    fn calendars() -> Vec<Calendar> {
        vec![office(), shifts(), sparse(), Calendar::always()]
    }

    /// 2025-06-01 .. 2028-01-01, at microsecond resolution.
    fn arb_time() -> impl Strategy<Value = Timestamp> {
        (1_748_736_000_000_000i64..1_830_297_600_000_000).prop_map(Timestamp)
    }

    proptest! {
        #[test]
        fn add_then_between_round_trips(c in 0..4usize, start in arb_time(), secs in 0i64..5_000_000) {
            let cal = &calendars()[c];
            let end = cal.add_business(start, secs);
            prop_assert!(end >= start);
            prop_assert_eq!(cal.business_secs_between(start, end), secs);
            // Nothing shorter would do: a microsecond earlier is not enough.
            if secs > 0 {
                prop_assert!(cal.schedule().between(start, Timestamp(end.0 - 1)) < secs as i128 * MICROS_PER_SEC);
            }
        }

        #[test]
        fn add_business_is_monotonic(
            c in 0..4usize, a in arb_time(), b in arb_time(), s1 in 0i64..3_000_000, s2 in 0i64..3_000_000,
        ) {
            let cal = &calendars()[c];
            let (a, b) = (a.min(b), a.max(b));
            let (s1, s2) = (s1.min(s2), s1.max(s2));
            prop_assert!(cal.add_business(a, s1) <= cal.add_business(a, s2));
            prop_assert!(cal.add_business(a, s1) <= cal.add_business(b, s1));
            prop_assert!(cal.business_secs_between(a, b) <= cal.business_secs_between(a, b.plus_secs(s1)));
        }

        #[test]
        fn between_is_additive(c in 0..4usize, a in arb_time(), b in arb_time(), m in arb_time()) {
            let s = calendars()[c].schedule();
            let mut t = [a, b, m];
            t.sort();
            prop_assert_eq!(s.between(t[0], t[1]) + s.between(t[1], t[2]), s.between(t[0], t[2]));
        }

        #[test]
        fn always_is_plain_addition(start in arb_time(), secs in 0i64..100_000_000, b in arb_time()) {
            let cal = Calendar::always();
            prop_assert_eq!(cal.add_business(start, secs), start.plus_secs(secs));
            let (lo, hi) = (start.min(b), start.max(b));
            prop_assert_eq!(cal.business_secs_between(lo, hi), (hi.0 - lo.0) / 1_000_000);
        }

        #[test]
        fn holidays_contribute_no_time(c in 0..3usize, day in 0i64..900, from in 0i64..86_400, len in 0i64..86_400) {
            let mut cal = calendars()[c].clone();
            let offset = cal.utc_offset_minutes as i64 * 60;
            // A local day between 2025-06-01 and 2027-11-18, made a holiday.
            let local_day = 20_240 + day;
            let date = time::Date::from_julian_day((local_day as i128 + EPOCH_JULIAN_DAY) as i32).unwrap();
            cal.holidays.push(date.to_string());
            prop_assert_eq!(cal.validate(), Ok(()));
            let midnight = Timestamp(0).plus_secs(local_day * 86_400 - offset);
            let a = midnight.plus_secs(from);
            let b = midnight.plus_secs((from + len).min(86_400));
            prop_assert_eq!(cal.business_secs_between(a, b), 0);
            // And adding working time from inside the holiday lands after it.
            prop_assert!(cal.add_business(a, 1) >= midnight.plus_secs(86_400));
        }
    }
}
