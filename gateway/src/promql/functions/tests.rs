//! The function table, and kernels fed random input.

use super::*;
use std::collections::HashSet;

#[test]
fn the_table_holds_each_function_once() {
    assert!(table::all().len() > 80);
    let mut names = HashSet::new();
    let mut kinds = HashSet::new();
    for f in table::all() {
        assert!(names.insert(f.name), "{} twice", f.name);
        assert!(kinds.insert(f.kind), "{:?} twice", f.kind);
        assert_eq!(lookup(f.name), Some(f));
    }
}

#[test]
fn the_table_holds_only_prometheus_functions() {
    for name in [
        "holt_winters",
        "quantile",
        "sum",
        "xrate",
        "",
        "RATE",
        "integral",
    ] {
        assert_eq!(lookup(name), None, "{name}");
    }
}

#[test]
fn kinds_are_consistent() {
    use FunctionKind::*;
    let kind = |name| lookup(name).map(|f| f.kind);
    assert_eq!(kind("rate"), Some(Range(RangeFunction::Rate)));
    assert_eq!(kind("clamp"), Some(Elementwise(ElementwiseFunction::Clamp)));
    assert_eq!(kind("year"), Some(Calendar(CalendarFunction::Year)));
    assert_eq!(kind("range"), Some(Special(SpecialFunction::QueryRange)));
    assert_eq!(kind("pi"), Some(Special(SpecialFunction::Pi)));
}

/// A small deterministic generator (no dev-dependency needed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 11
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next() % items.len() as u64) as usize]
    }

    fn float(&mut self) -> f64 {
        let specials = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            f64::MAX,
            f64::MIN_POSITIVE,
            1e300,
            -1.5,
        ];
        match self.next() % 4 {
            0 => self.pick(&specials),
            1 => f64::from_bits(self.next() << 11 | self.next() & 0x7ff),
            _ => (self.next() % 2000) as f64 / 7.0 - 100.0,
        }
    }

    fn text(&mut self, alphabet: &[char]) -> String {
        let len = self.next() % 12;
        (0..len).map(|_| self.pick(alphabet)).collect()
    }
}

#[test]
fn kernels_never_panic() {
    let mut rng = Lcg(42);
    let regex_chars: Vec<char> = "ab01\\dDwWsSbBQE[]^-:&~(){},*+?|.$P<>x!é\n"
        .chars()
        .collect();
    let number_chars: Vec<char> = "0123456789.eE+-_xXpPinfaINFA ".chars().collect();
    let labels = store_api::Labels::from_pairs([("a", "a1é"), ("b", ""), ("__name__", "m")]);
    let mut scratch = Vec::new();
    let mut annos = Annotations::new();
    for _ in 0..3000 {
        let pattern = rng.text(&regex_chars);
        if let Ok(r) = LabelReplace::new("dst", "$1${2}$$x$a", "a", &pattern) {
            let _ = r.apply(&labels);
        }
        let _ = histogram::parse_le(&rng.text(&number_chars));
        let x = rng.float();
        let _ = format::go_g(x, None);
        let _ = format::go_g(x, Some((rng.next() % 20) as usize));
        let _ = format::go_f(x);
        let _ = histogram::format_openmetrics_float(x);
        let _ = CalendarFunction::Year.apply(x);
        let args = [rng.float(), rng.float()];
        for f in [
            ElementwiseFunction::Round,
            ElementwiseFunction::Clamp,
            ElementwiseFunction::Log2,
        ] {
            let _ = f.apply(x, &args);
        }
        let n = (rng.next() % 6) as usize;
        let mut buckets: Vec<Bucket> = (0..n)
            .map(|_| Bucket {
                upper_bound: rng.float(),
                count: rng.float(),
            })
            .collect();
        if rng.next().is_multiple_of(2) {
            buckets.push(Bucket {
                upper_bound: f64::INFINITY,
                count: rng.float(),
            });
        }
        let _ = histogram::bucket_fraction(rng.float(), rng.float(), &mut buckets.clone());
        let _ = histogram::bucket_quantile_detail(rng.float(), &mut buckets);
        let mut ts: Vec<i64> = (0..n).map(|_| rng.next() as i64 % 1000).collect();
        ts.sort_unstable();
        let vs: Vec<f64> = (0..n).map(|_| rng.float()).collect();
        let window = Window::new(&ts, &vs, -1000, 1000).at(rng.next() as i64);
        let f = rng.pick(&[
            RangeFunction::Rate,
            RangeFunction::Irate,
            RangeFunction::PredictLinear,
            RangeFunction::QuantileOverTime,
            RangeFunction::MadOverTime,
            RangeFunction::AvgOverTime,
            RangeFunction::StddevOverTime,
            RangeFunction::DoubleExponentialSmoothing,
        ]);
        let _ = f.eval(&window, &args, &mut scratch, &mut annos);
    }
}
