//! day_of_month, day_of_week, day_of_year, days_in_month, hour, minute, month, year: the UTC
//! calendar fields of a Unix time in seconds, exactly as Prometheus computes them with Go's
//! `time.Unix(int64(v), 0).UTC()` on amd64.

/// A calendar function. Called with a vector argument it maps each sample's value (Unix
/// seconds); called without one it uses the evaluation time (see [`CalendarFunction::apply_ms`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CalendarFunction {
    DayOfMonth,
    DayOfWeek,
    DayOfYear,
    DaysInMonth,
    Hour,
    Minute,
    Month,
    Year,
}

impl CalendarFunction {
    /// The field of the time `seconds` (a sample value): Prometheus truncates it to an integer
    /// second first; NaN, ±Inf and values beyond ±2^63 become Go's amd64 "integer indefinite"
    /// (i64::MIN), which Go's calendar shows as 292277026596-12-04T15:30:08Z.
    pub fn apply(self, seconds: f64) -> f64 {
        self.field(civil_from_unix(go_int64(seconds)))
    }

    /// The field of the evaluation time `ts_ms` (the zero-argument form: `ts / 1000`, truncated).
    pub fn apply_ms(self, ts_ms: i64) -> f64 {
        self.field(civil_from_unix(ts_ms / 1000))
    }

    fn field(self, c: Civil) -> f64 {
        (match self {
            CalendarFunction::DayOfMonth => c.day,
            CalendarFunction::DayOfWeek => c.weekday,
            CalendarFunction::DayOfYear => c.yday,
            CalendarFunction::DaysInMonth => days_in_month(c.year, c.month),
            CalendarFunction::Hour => c.hour,
            CalendarFunction::Minute => c.minute,
            CalendarFunction::Month => c.month,
            CalendarFunction::Year => c.year,
        }) as f64
    }
}

/// A UTC calendar time, fields as Go's `time.Time` accessors return them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    /// 1..=12.
    pub month: i64,
    /// 1..=31.
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    /// 0 = Sunday.
    pub weekday: i64,
    /// 1..=366.
    pub yday: i64,
}

/// Unix seconds where Go's unsigned "absolute" clock starts (January 1, -292277022399). Earlier
/// times wrap around 2^64 seconds, so Go shows them near year 292277026596; we do the same.
const GO_ABSOLUTE_ZERO_UNIX: i64 = -9_223_372_028_715_321_600;

/// Go's float64 → int64 conversion on amd64 (CVTTSD2SQ): truncation, and i64::MIN for NaN and
/// anything out of range.
fn go_int64(f: f64) -> i64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() || !(-TWO_63..TWO_63).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

/// The proleptic Gregorian UTC calendar time of Unix second `sec`, with Go's wrap-around.
pub fn civil_from_unix(sec: i64) -> Civil {
    let mut s = i128::from(sec);
    if sec < GO_ABSOLUTE_ZERO_UNIX {
        s += 1i128 << 64;
    }
    let days = s.div_euclid(86_400);
    let secs = s.rem_euclid(86_400) as i64;
    let (year, month, day) = civil_from_days(days);
    let weekday = (days + 4).rem_euclid(7) as i64; // 1970-01-01 was a Thursday.
    let yday = (days - days_from_civil(year, 1, 1)) as i64 + 1;
    Civil {
        year: year as i64,
        month: month as i64,
        day: day as i64,
        hour: secs / 3600,
        minute: secs % 3600 / 60,
        second: secs % 60,
        weekday,
        yday,
    }
}

// Howard Hinnant's civil-from-days: eras of 400 years starting March 1.
fn civil_from_days(days: i128) -> (i128, i128, i128) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i128::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(crate) fn days_from_civil(year: i128, month: i128, day: i128) -> i128 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn is_leap(year: i64) -> bool {
    year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::CalendarFunction::*;
    use super::*;

    #[test]
    fn conformance_dates() {
        // functions.test:1495-1560.
        assert_eq!(Year.apply_ms(0), 1970.0);
        assert_eq!(Year.apply(1136239445.0), 2006.0);
        assert_eq!(Month.apply(1136239445.0), 1.0);
        assert_eq!(DayOfMonth.apply(1136239445.0), 2.0);
        assert_eq!(DayOfYear.apply(1136239445.0), 2.0);
        assert_eq!(DayOfWeek.apply_ms(0), 4.0);
        assert_eq!(DayOfWeek.apply(1136239445.0), 1.0);
        assert_eq!(Hour.apply(1136239445.0), 22.0);
        assert_eq!(Minute.apply(1136239445.0), 4.0);
        assert_eq!(Year.apply(1230767999.0), 2008.0);
        assert_eq!(Year.apply(1230768000.0), 2009.0);
        assert_eq!(Month.apply(1456790399.0), 2.0);
        assert_eq!(DayOfMonth.apply(1456790399.0), 29.0);
        assert_eq!(Month.apply(1456790400.0), 3.0);
        assert_eq!(DayOfMonth.apply(1456790400.0), 1.0);
        assert_eq!(DayOfYear.apply(1483191420.0), 366.0);
        assert_eq!(DayOfYear.apply(1672493820.0), 365.0);
        assert_eq!(DaysInMonth.apply(1454284800.0), 29.0);
        assert_eq!(DaysInMonth.apply(1485907200.0), 28.0);
    }

    #[test]
    fn negative_and_fractional_times_truncate_toward_zero() {
        // int64(-0.5) == 0: still 1970-01-01.
        assert_eq!(Year.apply(-0.5), 1970.0);
        // int64(-1.5) == -1: 1969-12-31T23:59:59.
        assert_eq!(Year.apply(-1.5), 1969.0);
        assert_eq!(DayOfMonth.apply(-1.5), 31.0);
        assert_eq!(Hour.apply(-1.5), 23.0);
        assert_eq!(Minute.apply(-1.5), 59.0);
        assert_eq!(DayOfWeek.apply(-1.5), 3.0);
        assert_eq!(DayOfYear.apply(-1.5), 365.0);
        assert_eq!(Year.apply(59.9), 1970.0);
        assert_eq!(Minute.apply(59.9), 0.0);
        // The evaluation-time form truncates too: -1500 ms is second -1.
        assert_eq!(Year.apply_ms(-1500), 1969.0);
        // Far past: 0001-01-01 is day -719162, a Monday.
        let year1: i64 = -719_162 * 86_400;
        assert_eq!(Year.apply(year1 as f64), 1.0);
        assert_eq!(DayOfWeek.apply(year1 as f64), 1.0);
        assert_eq!(Year.apply((year1 - 1) as f64), 0.0);
        assert_eq!(DaysInMonth.apply((year1 - 1) as f64), 31.0);
    }

    #[test]
    fn nan_and_infinities_are_gos_integer_indefinite() {
        // time.Unix(math.MaxInt64, 0).UTC() is 292277026596-12-04T15:30:07Z, and Go's
        // absolute clock wraps math.MinInt64 to the second after it.
        let max = civil_from_unix(i64::MAX);
        assert_eq!(
            (
                max.year, max.month, max.day, max.hour, max.minute, max.second
            ),
            (292_277_026_596, 12, 4, 15, 30, 7)
        );
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e19, -1e300] {
            assert_eq!(Year.apply(v), 292_277_026_596.0, "{v}");
            assert_eq!(Month.apply(v), 12.0);
            assert_eq!(DayOfMonth.apply(v), 4.0);
            assert_eq!(Hour.apply(v), 15.0);
            assert_eq!(Minute.apply(v), 30.0);
            assert_eq!(DaysInMonth.apply(v), 31.0);
            assert_eq!(DayOfYear.apply(v), 339.0);
        }
        // One second after MaxInt64: the same day, so the same weekday.
        assert_eq!(DayOfWeek.apply(f64::NAN), max.weekday as f64);
    }

    #[test]
    fn days_round_trip() {
        for d in [-800_000i128, -1, 0, 1, 59, 60, 365, 10_957, 2_932_896] {
            let (y, m, day) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, day), d);
        }
    }
}
