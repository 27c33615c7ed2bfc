//! Number and time formatting as Go's `fmt`/`strconv` produce it, for message texts that users
//! and tests compare verbatim (`%g`, `%.2g`, `%f`, RFC 3339).

use super::calendar::civil_from_unix;

/// Go's `%g` (`prec` = None: shortest round-trip digits) or `%.Ng` (`prec` = Some(N)).
pub fn go_g(x: f64, prec: Option<usize>) -> String {
    if let Some(special) = special(x) {
        return special.to_string();
    }
    let (neg, digits, dp) = decimal_digits(x, prec);
    let nd = digits.len() as i64;
    let shortest = prec.is_none();
    let mut eprec = prec.map_or(6, |p| p as i64);
    if !shortest && eprec > nd && nd >= dp {
        eprec = nd;
    }
    if shortest {
        eprec = 6;
    }
    let exp = dp - 1;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if exp < -4 || exp >= eprec {
        // %e with (digits - 1) decimals; Go never pads %g with trailing zeros.
        let shown = if shortest {
            nd
        } else {
            (prec.unwrap_or(1) as i64).min(nd)
        };
        out.push(char::from(digits[0]));
        if shown > 1 {
            out.push('.');
            for &d in &digits[1..shown as usize] {
                out.push(char::from(d));
            }
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push('0');
        }
        out.push_str(&e.to_string());
        return out;
    }
    let decimals = if shortest {
        (nd - dp).max(0)
    } else {
        let p = prec.unwrap_or(1) as i64;
        (if p > dp { nd } else { p } - dp).max(0)
    };
    push_fixed(&mut out, &digits, dp, decimals);
    out
}

/// Go's `strconv.FormatFloat(x, 'f', -1, 64)`: the shortest digits that round-trip, never an
/// exponent ("0.00000015", "1000000000000000000000"); `+Inf`, `-Inf`, `NaN`. How Prometheus'
/// API writes sample values.
pub fn go_f(x: f64) -> String {
    let mut out = String::new();
    push_go_f(&mut out, x);
    out
}

/// [`go_f`] appended to `out`. ryu finds the same shortest round-trip digits as Go; only its
/// layout differs (`1.0`, `1.5e-7`), so its answer is re-laid out in Go's fixed notation.
pub fn push_go_f(out: &mut String, x: f64) {
    if let Some(special) = special(x) {
        out.push_str(special);
        return;
    }
    // Integers (counters, most gauges) skip the float formatting altogether.
    if x.fract() == 0.0 && x.abs() < 1e15 {
        if x == 0.0 && x.is_sign_negative() {
            out.push('-');
        }
        push_integer(out, x as i64);
        return;
    }
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(x);
    let significant = text
        .split('e')
        .next()
        .map_or(0, |m| m.bytes().filter(u8::is_ascii_digit).count());
    if significant >= 17 {
        // Where 17 digits are needed, two may round-trip; ryu does not always pick the closest
        // one, as Go does (1.3122675257583613e14 is ...836.13, ryu says ...836.12): the
        // standard library's digits do.
        let (neg, digits, dp) = decimal_digits(x, None);
        if neg {
            out.push('-');
        }
        push_fixed(out, &digits, dp, (digits.len() as i64 - dp).max(0));
        return;
    }
    let Some((mantissa, exponent)) = text.split_once('e') else {
        out.push_str(text.strip_suffix(".0").unwrap_or(text));
        return;
    };
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let mut digits = [0u8; 24];
    let mut len = 0;
    for b in mantissa.bytes().filter(u8::is_ascii_digit) {
        if len < digits.len() {
            digits[len] = b;
            len += 1;
        }
    }
    while len > 1 && digits[len - 1] == b'0' {
        len -= 1;
    }
    // ryu writes one digit before the point: the point sits after it, moved by the exponent.
    let dp = exponent.parse::<i64>().unwrap_or(0) + 1;
    if neg {
        out.push('-');
    }
    push_fixed(out, &digits[..len], dp, (len as i64 - dp).max(0));
}

/// Appends the decimal digits of `n`, without going through `fmt`.
fn push_integer(out: &mut String, n: i64) {
    let mut text = [0u8; 21];
    let mut start = digits_before(&mut text, 21, n.unsigned_abs());
    if n < 0 {
        start -= 1;
        text[start] = b'-';
    }
    push_ascii(out, &text[start..]);
}

/// Writes the decimal digits of `n` so that they end at `text[end]`; returns where they
/// start. `text` must have room for them (20 bytes hold any u64).
pub fn digits_before(text: &mut [u8], end: usize, mut n: u64) -> usize {
    let mut start = end;
    loop {
        start -= 1;
        text[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return start;
        }
    }
}

/// Appends ASCII text in one `push_str`: a char at a time costs a capacity check and an
/// encoding step per digit, on the path that writes every sample of an answer.
pub fn push_ascii(out: &mut String, ascii: &[u8]) {
    out.push_str(std::str::from_utf8(ascii).unwrap_or_default());
}

/// Go's `fmt` `%f`: six decimals; infinities print as `+Inf`/`-Inf`.
pub fn go_printf_f(x: f64) -> String {
    match special(x) {
        Some(s) => s.to_string(),
        None => format!("{x:.6}"),
    }
}

/// Go's `time.Unix(sec, 0).UTC().Format(time.RFC3339)`.
pub fn rfc3339(sec: i64) -> String {
    let c = civil_from_unix(sec);
    let year = if (0..=9999).contains(&c.year) {
        format!("{:04}", c.year)
    } else {
        c.year.to_string()
    };
    format!(
        "{year}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.month, c.day, c.hour, c.minute, c.second
    )
}

/// Go's `time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")`, as Prometheus'
/// query log writes times.
pub fn rfc3339_millis(ms: i64) -> String {
    let second = rfc3339(ms.div_euclid(1000));
    format!(
        "{}.{:03}Z",
        second.trim_end_matches('Z'),
        ms.rem_euclid(1000)
    )
}

fn special(x: f64) -> Option<&'static str> {
    if x.is_nan() {
        Some("NaN")
    } else if x == f64::INFINITY {
        Some("+Inf")
    } else if x == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

/// The decimal digits of `x` (no trailing zeros, at least one digit) and the position of the
/// decimal point relative to them, as Go's `decimal` type holds them; `prec` rounds to that many
/// significant digits (half to even on exact ties, like Go).
fn decimal_digits(x: f64, prec: Option<usize>) -> (bool, Vec<u8>, i64) {
    let neg = x.is_sign_negative();
    let x = x.abs();
    if x == 0.0 {
        return (neg, vec![b'0'], 1);
    }
    let sci = match prec {
        None => format!("{x:e}"),
        Some(p) => format!("{:.*e}", p.max(1) - 1, x),
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    (neg, digits, exp + 1)
}

fn push_fixed(out: &mut String, digits: &[u8], dp: i64, decimals: i64) {
    let digit_at = |i: i64| -> char {
        if i >= 0 && (i as usize) < digits.len() {
            char::from(digits[i as usize])
        } else {
            '0'
        }
    };
    if dp <= 0 {
        out.push('0');
    } else {
        for i in 0..dp {
            out.push(digit_at(i));
        }
    }
    if decimals > 0 {
        out.push('.');
        for i in 0..decimals {
            out.push(digit_at(dp + i));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Go's 'f' -1 from the standard library's shortest digits (`{:e}`).
    fn go_f_from_std(x: f64) -> String {
        let (neg, digits, dp) = decimal_digits(x, None);
        let mut out = String::from(if neg { "-" } else { "" });
        push_fixed(&mut out, &digits, dp, (digits.len() as i64 - dp).max(0));
        out
    }

    proptest! {
        #[test]
        fn ryu_layout_matches_the_standard_shortest_digits(bits in any::<u64>(), small in -1e6f64..1e6) {
            for x in [f64::from_bits(bits), small, small.round(), small / 1e9] {
                if x.is_finite() {
                    prop_assert_eq!(go_f(x), go_f_from_std(x), "{:e}", x);
                }
            }
        }
    }

    #[test]
    fn the_closest_of_two_round_tripping_17_digit_forms_is_written() {
        assert_eq!(go_f(1.3122675257583613e14), "131226752575836.13");
        assert_eq!(go_f(0.1 + 0.2), "0.30000000000000004");
    }

    #[test]
    fn fixed_notation_like_go() {
        for (x, want) in [
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (1e21, "1000000000000000000000"),
            (1.5e-7, "0.00000015"),
            (-123.456, "-123.456"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            assert_eq!(go_f(x), want);
        }
    }

    #[test]
    fn shortest_g_matches_go() {
        let cases = [
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (-0.1, "-0.1"),
            (1.01, "1.01"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (2.5e-7, "2.5e-07"),
            (1e100, "1e+100"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for (x, want) in cases {
            assert_eq!(go_g(x, None), want, "{x}");
        }
    }

    #[test]
    fn precision_g_matches_go() {
        let cases = [
            (1.0, "1"),
            (12.0, "12"),
            (12.5, "12"),
            (13.5, "14"),
            (100.0, "1e+02"),
            (0.5, "0.5"),
            (1.04, "1"),
            (0.012345, "0.012"),
        ];
        for (x, want) in cases {
            assert_eq!(go_g(x, Some(2)), want, "{x}");
        }
    }

    #[test]
    fn f_and_rfc3339() {
        assert_eq!(go_printf_f(0.0), "0.000000");
        assert_eq!(go_printf_f(1.0), "1.000000");
        assert_eq!(go_printf_f(-0.25), "-0.250000");
        assert_eq!(go_printf_f(f64::INFINITY), "+Inf");
        for (x, want) in [
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1.5e-7, "0.00000015"),
            (1e21, "1000000000000000000000"),
            (123456.789, "123456.789"),
            (0.26666666666666666, "0.26666666666666666"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            assert_eq!(go_f(x), want, "{x}");
        }
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(3000), "1970-01-01T00:50:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(
            rfc3339_millis(1_581_173_990_368),
            "2020-02-08T14:59:50.368Z"
        );
        assert_eq!(rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
    }
}
