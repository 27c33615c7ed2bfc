//! Compensated (Kahan–Neumaier) summation, as Prometheus sums floats: large and small
//! addends keep their precision, and an infinite sum resets the compensation.

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct KahanSum {
    sum: f64,
    c: f64,
}

impl KahanSum {
    pub fn from_parts(sum: f64, compensation: f64) -> Self {
        Self {
            sum,
            c: compensation,
        }
    }

    pub fn with_compensation(compensation: f64) -> Self {
        Self::from_parts(0.0, compensation)
    }

    pub fn add(&mut self, value: f64) {
        let t = self.sum + value;
        if t.is_infinite() {
            self.c = 0.0;
        } else if self.sum.abs() >= value.abs() {
            self.c += (self.sum - t) + value;
        } else {
            self.c += (value - t) + self.sum;
        }
        self.sum = t;
    }

    /// The running sum without the compensation term.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    pub fn compensation(&self) -> f64 {
        self.c
    }

    /// The compensated sum.
    pub fn value(&self) -> f64 {
        self.sum + self.c
    }
}

#[cfg(test)]
mod tests {
    use super::KahanSum;

    #[test]
    fn keeps_small_addends_next_to_large_ones() {
        let mut k = KahanSum::default();
        for v in [1e100, 1.0, -1e100, 1.0] {
            k.add(v);
        }
        assert_eq!(k.value(), 2.0);
    }

    #[test]
    fn infinity_resets_compensation() {
        let mut k = KahanSum::default();
        k.add(1.0);
        k.add(f64::INFINITY);
        assert_eq!(k.value(), f64::INFINITY);
    }
}
