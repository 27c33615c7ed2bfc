//! Element-wise functions of an instant vector's float samples: abs, ceil, floor, exp, sqrt,
//! ln, log2, log10, sgn, round, clamp*, the trigonometric family, deg and rad, with Go's `math`
//! semantics for special values.

/// An element-wise function; scalar arguments come after the vector in call order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElementwiseFunction {
    Abs,
    Ceil,
    Floor,
    Exp,
    Sqrt,
    Ln,
    Log2,
    Log10,
    Sgn,
    /// `round(v, to_nearest = 1)`.
    Round,
    /// `clamp(v, min, max)`.
    Clamp,
    /// `clamp_min(v, min)`.
    ClampMin,
    /// `clamp_max(v, max)`.
    ClampMax,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Asinh,
    Acosh,
    Atanh,
    Deg,
    Rad,
}

impl ElementwiseFunction {
    /// The function of `v`; None means no output sample: clamp with max < min, or a missing
    /// required argument.
    pub fn apply(self, v: f64, args: &[f64]) -> Option<f64> {
        use ElementwiseFunction::*;
        Some(match self {
            Abs => v.abs(),
            Ceil => v.ceil(),
            Floor => v.floor(),
            Exp => v.exp(),
            Sqrt => v.sqrt(),
            Ln => v.ln(),
            Log2 => go_log2(v),
            // Go's math.Log10 is Log(x) * (1/Ln10); keep its rounding.
            Log10 => v.ln() * std::f64::consts::LOG10_E,
            Sgn => {
                if v < 0.0 {
                    -1.0
                } else if v > 0.0 {
                    1.0
                } else {
                    v
                }
            }
            Round => {
                // Ties round up; the inverse "seems to cause fewer floating point accuracy
                // issues" (Prometheus).
                let inverse = 1.0 / args.first().copied().unwrap_or(1.0);
                (v * inverse + 0.5).floor() / inverse
            }
            Clamp => return clamp(v, *args.first()?, *args.get(1)?),
            ClampMin => return clamp(v, *args.first()?, f64::INFINITY),
            ClampMax => return clamp(v, f64::NEG_INFINITY, *args.first()?),
            Sin => v.sin(),
            Cos => v.cos(),
            Tan => v.tan(),
            Asin => v.asin(),
            Acos => v.acos(),
            Atan => v.atan(),
            Sinh => v.sinh(),
            Cosh => v.cosh(),
            Tanh => v.tanh(),
            Asinh => v.asinh(),
            Acosh => v.acosh(),
            Atanh => v.atanh(),
            Deg => v * 180.0 / std::f64::consts::PI,
            Rad => v * std::f64::consts::PI / 180.0,
        })
    }
}

/// `max(min, min(max, v))` with Go's Max/Min; no output when max < min.
fn clamp(v: f64, min: f64, max: f64) -> Option<f64> {
    if max < min {
        return None;
    }
    Some(go_max(min, go_min(max, v)))
}

/// Go's `math.Max`: +Inf wins over NaN, NaN over numbers, +0 over -0.
pub fn go_max(x: f64, y: f64) -> f64 {
    if x == f64::INFINITY || y == f64::INFINITY {
        f64::INFINITY
    } else if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x == 0.0 && x == y {
        if x.is_sign_negative() { y } else { x }
    } else if x > y {
        x
    } else {
        y
    }
}

/// Go's `math.Min`: -Inf wins over NaN, NaN over numbers, -0 over +0.
pub fn go_min(x: f64, y: f64) -> f64 {
    if x == f64::NEG_INFINITY || y == f64::NEG_INFINITY {
        f64::NEG_INFINITY
    } else if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x == 0.0 && x == y {
        if x.is_sign_negative() { x } else { y }
    } else if x < y {
        x
    } else {
        y
    }
}

/// Go's math.Log2: exact for powers of two, else Log(frac)/Ln2 + exp.
fn go_log2(x: f64) -> f64 {
    let (frac, exp) = frexp(x);
    if frac == 0.5 {
        return f64::from(exp - 1);
    }
    frac.ln() * std::f64::consts::LOG2_E + f64::from(exp)
}

/// Go's math.Frexp: x = frac × 2^exp with |frac| in [0.5, 1); specials pass through.
fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || x.is_nan() || x.is_infinite() {
        return (x, 0);
    }
    let (mut x, mut exp) = (x, 0);
    if x.abs() < f64::MIN_POSITIVE {
        x *= (1u64 << 52) as f64;
        exp = -52;
    }
    let bits = x.to_bits();
    exp += ((bits >> 52) & 0x7ff) as i32 - 1022;
    let frac = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (frac, exp)
}

#[cfg(test)]
mod tests {
    use super::ElementwiseFunction::*;
    use super::*;

    fn ap(f: ElementwiseFunction, v: f64) -> f64 {
        f.apply(v, &[]).unwrap()
    }

    #[test]
    fn rounding_family() {
        // functions.test:1660-1710.
        let data = [
            2.5,
            2.0,
            -2.5,
            -2.0,
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        let want_ceil = [
            3.0,
            2.0,
            -2.0,
            -2.0,
            0.0,
            0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        let want_floor = [
            2.0,
            2.0,
            -3.0,
            -2.0,
            0.0,
            0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        let want_round = [
            3.0,
            2.0,
            -2.0,
            -2.0,
            0.0,
            0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for (i, v) in data.into_iter().enumerate() {
            assert_eq!(ap(Ceil, v), want_ceil[i]);
            assert_eq!(ap(Floor, v), want_floor[i]);
            assert_eq!(ap(Round, v), want_round[i], "round({v})");
            assert_eq!(ap(Abs, v), v.abs());
        }
        assert!(ap(Round, f64::NAN).is_nan());
        assert_eq!(Round.apply(7.5, &[5.0]), Some(10.0));
        assert_eq!(Round.apply(12.34, &[0.1]), Some(12.3));
        assert_eq!(Round.apply(-7.5, &[5.0]), Some(-5.0));
    }

    #[test]
    fn clamp_family() {
        // functions.test:613-655.
        assert_eq!(ClampMax.apply(100.0, &[75.0]), Some(75.0));
        assert_eq!(ClampMin.apply(-50.0, &[-25.0]), Some(-25.0));
        assert_eq!(Clamp.apply(0.0, &[-25.0, 75.0]), Some(0.0));
        assert!(Clamp.apply(0.0, &[0.0, f64::NAN]).unwrap().is_nan());
        assert!(Clamp.apply(100.0, &[f64::NAN, 0.0]).unwrap().is_nan());
        assert_eq!(Clamp.apply(0.0, &[5.0, -5.0]), None);
        assert_eq!(Clamp.apply(0.0, &[5.0]), None);
        assert!(ClampMax.apply(f64::NAN, &[1.0]).unwrap().is_nan());
        // Go's Min lets -Inf win over NaN.
        assert_eq!(
            ClampMax.apply(f64::NEG_INFINITY, &[f64::NAN]),
            Some(f64::NEG_INFINITY)
        );
    }

    #[test]
    fn sgn_keeps_zero_and_nan() {
        // functions.test:675-681.
        assert_eq!(ap(Sgn, f64::NEG_INFINITY), -1.0);
        assert_eq!(ap(Sgn, f64::INFINITY), 1.0);
        assert!(ap(Sgn, f64::NAN).is_nan());
        assert_eq!(ap(Sgn, -50.0), -1.0);
        assert!(ap(Sgn, -0.0).is_sign_negative());
    }

    #[test]
    fn exp_log_family() {
        // functions.test:1905-1975.
        assert!((ap(Exp, 10.0) - 22026.465794806718).abs() < 1e-9);
        assert!((ap(Ln, 20.0) - 2.995732273553991).abs() < 1e-15);
        assert_eq!(ap(Ln, 0.0), f64::NEG_INFINITY);
        assert!(ap(Ln, -10.0).is_nan());
        assert_eq!(ap(Log2, 8.0), 3.0);
        assert!((ap(Log2, 10.0) - 3.3219280948873626).abs() < 1e-15);
        assert_eq!(ap(Log2, 0.0), f64::NEG_INFINITY);
        assert!(ap(Log2, -1.0).is_nan());
        assert_eq!(ap(Log2, f64::MIN_POSITIVE / 4.0), -1024.0);
        assert!((ap(Log10, 10.0) - 1.0).abs() < 1e-15);
        assert!((ap(Log10, 20.0) - 1.301029995663981).abs() < 1e-15);
        assert_eq!(ap(Log10, 0.0), f64::NEG_INFINITY);
        assert!((ap(Sqrt, 20.0) - 4.47213595499958).abs() < 1e-14);
    }

    #[test]
    fn trig_family() {
        // trig_functions.test.
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
        assert!(close(ap(Sin, 10.0), -0.5440211108893699));
        assert!(close(ap(Cos, 20.0), 0.40808206181339196));
        assert!(close(ap(Tan, 10.0), 0.6483608274590867));
        assert!(close(ap(Asin, -0.1), -0.10016742116155944));
        assert!(ap(Asin, 9.9).is_nan());
        assert!(close(ap(Acos, -0.1), 1.670963747956456));
        assert!(close(ap(Atan, 20.0), 1.5208379310729538));
        assert!(close(ap(Sinh, 20.0), 2.4258259770489514e+08));
        assert!(close(ap(Cosh, 10.0), 11013.232920103324));
        assert_eq!(ap(Tanh, 20.0), 1.0);
        assert!(close(ap(Asinh, 10.0), 2.99822295029797));
        assert!(close(ap(Acosh, 20.0), 3.6882538673612966));
        assert!(close(ap(Atanh, -0.1), -0.10033534773107522));
        assert!(ap(Atanh, 9.9).is_nan());
        assert_eq!(ap(Rad, 10.0), 0.17453292519943295);
        assert_eq!(ap(Deg, std::f64::consts::PI), 180.0);
        assert!(ap(Deg, f64::NAN).is_nan());
    }

    #[test]
    fn go_min_max_specials() {
        assert_eq!(go_max(f64::INFINITY, f64::NAN), f64::INFINITY);
        assert!(go_max(1.0, f64::NAN).is_nan());
        assert!(go_max(-0.0, 0.0).is_sign_positive());
        assert!(go_min(0.0, -0.0).is_sign_negative());
        assert_eq!(go_min(f64::NAN, f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert_eq!(frexp(8.0), (0.5, 4));
        assert_eq!(frexp(-3.0), (-0.75, 2));
    }
}
