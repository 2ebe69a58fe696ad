//! Money as integer micro-dollars, so sums never drift. The API renders USD floats.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Sub, SubAssign};

use serde::{Deserialize, Serialize};

/// An amount of US dollars in millionths (1 USD = 1,000,000 micros).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Micros(pub i64);

impl Micros {
    /// Zero dollars.
    pub const ZERO: Self = Self(0);
    /// Micros per dollar.
    pub const PER_USD: i64 = 1_000_000;

    /// Converts a dollar amount, rounding to the nearest micro-dollar. Non-finite input is zero;
    /// out-of-range input saturates.
    #[must_use]
    pub fn from_usd(usd: f64) -> Self {
        if !usd.is_finite() {
            return Self::ZERO;
        }
        let v = (usd * Self::PER_USD as f64).round();
        #[allow(
            clippy::cast_possible_truncation,
            reason = "clamped to the i64 range first"
        )]
        Self(v.clamp(i64::MIN as f64, i64::MAX as f64) as i64)
    }

    /// The amount in dollars, for display and the API.
    #[must_use]
    pub fn to_usd(self) -> f64 {
        self.0 as f64 / Self::PER_USD as f64
    }

    /// Saturating addition.
    #[must_use]
    pub fn saturating_add(self, other: Self) -> Self {
        Self(self.0.saturating_add(other.0))
    }

    /// Saturating subtraction.
    #[must_use]
    pub fn saturating_sub(self, other: Self) -> Self {
        Self(self.0.saturating_sub(other.0))
    }

    /// Cost of `tokens` at `micros_per_mtok` micro-dollars per million tokens, rounded up so a
    /// priced call is never recorded as free.
    #[must_use]
    pub fn for_tokens(tokens: u64, micros_per_mtok: u64) -> Self {
        let product = u128::from(tokens) * u128::from(micros_per_mtok);
        let v = product.div_ceil(1_000_000);
        Self(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl Add for Micros {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        self.saturating_add(rhs)
    }
}

impl AddAssign for Micros {
    fn add_assign(&mut self, rhs: Self) {
        *self = *self + rhs;
    }
}

impl Sub for Micros {
    type Output = Self;
    fn sub(self, rhs: Self) -> Self {
        self.saturating_sub(rhs)
    }
}

impl SubAssign for Micros {
    fn sub_assign(&mut self, rhs: Self) {
        *self = *self - rhs;
    }
}

impl Sum for Micros {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::ZERO, Add::add)
    }
}

impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${:.6}", self.to_usd())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn converts_dollars() {
        assert_eq!(Micros::from_usd(1.23), Micros(1_230_000));
        assert_eq!(Micros(450_000).to_usd(), 0.45);
        assert_eq!(Micros::from_usd(f64::NAN), Micros::ZERO);
    }

    #[test]
    fn token_pricing_rounds_up() {
        // 1 token at $3 / Mtok is 3 micros.
        assert_eq!(Micros::for_tokens(1, 3_000_000), Micros(3));
        // 1 token at $0.30 / Mtok is 0.3 micros, rounded up to 1.
        assert_eq!(Micros::for_tokens(1, 300_000), Micros(1));
        assert_eq!(Micros::for_tokens(0, 300_000), Micros::ZERO);
        assert_eq!(
            Micros::for_tokens(1_000_000, 15_000_000),
            Micros(15_000_000)
        );
    }

    proptest! {
        #[test]
        fn sums_never_drift(parts in proptest::collection::vec(0i64..10_000_000, 0..200)) {
            let total: Micros = parts.iter().copied().map(Micros).sum();
            prop_assert_eq!(total.0, parts.iter().sum::<i64>());
        }

        #[test]
        fn usd_round_trip(m in -1_000_000_000_000i64..1_000_000_000_000) {
            prop_assert_eq!(Micros::from_usd(Micros(m).to_usd()), Micros(m));
        }

        #[test]
        fn token_pricing_is_monotonic(a in 0u64..10_000_000, b in 0u64..10_000_000, p in 0u64..100_000_000) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(Micros::for_tokens(lo, p) <= Micros::for_tokens(hi, p));
            // additivity within one micro of rounding per part
            let split = Micros::for_tokens(lo, p) + Micros::for_tokens(hi, p);
            let whole = Micros::for_tokens(lo + hi, p);
            prop_assert!(split.0 - whole.0 <= 1 && split.0 >= whole.0);
        }
    }
}
