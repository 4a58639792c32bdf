//! Scalars for the reference: f32, f64 and forward-mode dual numbers.

use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub};

/// The arithmetic the reference forward pass needs. `spike` is the one non-smooth operation:
/// its value is H(u) (strictly positive u spikes, M5) and, for dual numbers, its derivative is
/// the pseudo-derivative γ·max(0, 1 − |u|) (M6).
pub trait Real:
    Copy
    + PartialOrd
    + std::fmt::Debug
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
{
    fn from_f64(x: f64) -> Self;
    fn value(self) -> f64;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    /// H(u)·scale with the pseudo-derivative γ·max(0, 1 − |u|)·scale (M5, M6).
    fn spike(u: Self, gamma: f64, scale: f64) -> Self;
    fn zero() -> Self {
        Self::from_f64(0.0)
    }
    fn one() -> Self {
        Self::from_f64(1.0)
    }
}

impl Real for f32 {
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn value(self) -> f64 {
        self as f64
    }
    fn exp(self) -> Self {
        f32::exp(self)
    }
    fn ln(self) -> Self {
        f32::ln(self)
    }
    fn spike(u: Self, _gamma: f64, scale: f64) -> Self {
        if u > 0.0 {
            scale as f32
        } else {
            0.0
        }
    }
}

impl Real for f64 {
    fn from_f64(x: f64) -> Self {
        x
    }
    fn value(self) -> f64 {
        self
    }
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn ln(self) -> Self {
        f64::ln(self)
    }
    fn spike(u: Self, _gamma: f64, scale: f64) -> Self {
        if u > 0.0 {
            scale
        } else {
            0.0
        }
    }
}

/// A dual number v + d·ε (ε² = 0): carries one directional derivative forward.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dual {
    pub v: f64,
    pub d: f64,
}

impl Dual {
    pub fn new(v: f64, d: f64) -> Dual {
        Dual { v, d }
    }
}

impl PartialOrd for Dual {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.v.partial_cmp(&other.v)
    }
}

impl Add for Dual {
    type Output = Dual;
    fn add(self, o: Dual) -> Dual {
        Dual::new(self.v + o.v, self.d + o.d)
    }
}
impl AddAssign for Dual {
    fn add_assign(&mut self, o: Dual) {
        *self = *self + o;
    }
}
impl Sub for Dual {
    type Output = Dual;
    fn sub(self, o: Dual) -> Dual {
        Dual::new(self.v - o.v, self.d - o.d)
    }
}
impl Mul for Dual {
    type Output = Dual;
    fn mul(self, o: Dual) -> Dual {
        Dual::new(self.v * o.v, self.d * o.v + self.v * o.d)
    }
}
impl Div for Dual {
    type Output = Dual;
    fn div(self, o: Dual) -> Dual {
        Dual::new(self.v / o.v, (self.d * o.v - self.v * o.d) / (o.v * o.v))
    }
}
impl Neg for Dual {
    type Output = Dual;
    fn neg(self) -> Dual {
        Dual::new(-self.v, -self.d)
    }
}

impl Real for Dual {
    fn from_f64(x: f64) -> Self {
        Dual::new(x, 0.0)
    }
    fn value(self) -> f64 {
        self.v
    }
    fn exp(self) -> Self {
        let e = self.v.exp();
        Dual::new(e, e * self.d)
    }
    fn ln(self) -> Self {
        Dual::new(self.v.ln(), self.d / self.v)
    }
    fn spike(u: Self, gamma: f64, scale: f64) -> Self {
        let h = if u.v > 0.0 { scale } else { 0.0 };
        let psi = gamma * (1.0 - u.v.abs()).max(0.0);
        Dual::new(h, psi * u.d * scale)
    }
}
