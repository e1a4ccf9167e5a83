//! Elementwise binary arithmetic (`Add`, `Sub`, `Mul`, `Div`; Paddle's `elementwise_*`), the one
//! normalisation both front ends share once they have resolved their operands' shapes (ONNX
//! broadcasting, Paddle's `axis` alignment): two computed tensors become [`Op::Add`] / [`Op::Mul`],
//! a tensor and a constant become [`Op::AddConst`] / [`Op::MulConst`] with `x - c` as `x + (-c)`
//! and `x / c` as `x * (1 / c)`.

use crate::ir::{Op, Tensor};

/// The arithmetic of a binary node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryKind {
    Add,
    Sub,
    Mul,
    Div,
}

impl BinaryKind {
    /// `Add`, `Sub`, `Mul` or `Div` (ONNX op types).
    pub fn from_onnx(op_type: &str) -> Option<Self> {
        match op_type {
            "Add" => Some(BinaryKind::Add),
            "Sub" => Some(BinaryKind::Sub),
            "Mul" => Some(BinaryKind::Mul),
            "Div" => Some(BinaryKind::Div),
            _ => None,
        }
    }

    /// `elementwise_add`, `_sub`, `_mul` or `_div` (Paddle op types).
    pub fn from_paddle(kind: &str) -> Option<Self> {
        match kind {
            "elementwise_add" => Some(BinaryKind::Add),
            "elementwise_sub" => Some(BinaryKind::Sub),
            "elementwise_mul" => Some(BinaryKind::Mul),
            "elementwise_div" => Some(BinaryKind::Div),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            BinaryKind::Add => "Add",
            BinaryKind::Sub => "Sub",
            BinaryKind::Mul => "Mul",
            BinaryKind::Div => "Div",
        }
    }

    /// The op for two computed tensors (shapes already checked to broadcast), or why there is none.
    pub fn of_values(self) -> Result<Op, String> {
        match self {
            BinaryKind::Add => Ok(Op::Add),
            BinaryKind::Mul => Ok(Op::Mul),
            _ => Err(format!(
                "{} of two computed tensors is not supported",
                self.name()
            )),
        }
    }

    /// The op for a computed tensor and the constant `c` (aligned to it, not growing it);
    /// `const_first` when the constant is the left operand. Division by a constant is multiplication
    /// by its reciprocal: exact for powers of two, within one rounding otherwise (torch exports
    /// write hard-sigmoid as `clip(x + 3, 0, 6) / 6`); a zero, denormal, infinite or NaN divisor
    /// is refused.
    pub fn with_constant(self, const_first: bool, mut c: Tensor) -> Result<Op, String> {
        match (self, const_first) {
            (BinaryKind::Add, _) => Ok(Op::AddConst(c)),
            (BinaryKind::Mul, _) => Ok(Op::MulConst(c)),
            (BinaryKind::Sub, false) => {
                c.data.iter_mut().for_each(|v| *v = -*v);
                Ok(Op::AddConst(c))
            }
            (BinaryKind::Div, false) => {
                if let Some(v) = c.data.iter().find(|v| !v.is_normal()) {
                    return Err(format!("division by the constant {v}"));
                }
                c.data.iter_mut().for_each(|v| *v = 1.0 / *v);
                Ok(Op::MulConst(c))
            }
            _ => Err(format!(
                "{} with a constant first operand is not supported",
                self.name()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(data: Vec<f32>) -> Tensor {
        Tensor {
            shape: vec![data.len()],
            data,
        }
    }

    #[test]
    fn both_front_ends_name_the_same_kinds() {
        for (onnx, paddle) in [
            ("Add", "elementwise_add"),
            ("Sub", "elementwise_sub"),
            ("Mul", "elementwise_mul"),
            ("Div", "elementwise_div"),
        ] {
            assert_eq!(BinaryKind::from_onnx(onnx), BinaryKind::from_paddle(paddle));
            assert!(BinaryKind::from_onnx(onnx).is_some());
        }
        assert_eq!(BinaryKind::from_onnx("Pow"), None);
    }

    #[test]
    fn constants_normalise_to_add_and_mul() {
        let Ok(Op::AddConst(c)) = BinaryKind::Sub.with_constant(false, t(vec![1.5, -2.0])) else {
            panic!("sub");
        };
        assert_eq!(c.data, [-1.5, 2.0]);
        // Any normal divisor, powers of two or not (the two front ends used to differ here).
        let Ok(Op::MulConst(c)) = BinaryKind::Div.with_constant(false, t(vec![6.0, 0.25])) else {
            panic!("div");
        };
        assert_eq!(c.data, [1.0 / 6.0, 4.0]);
        for bad in [0.0, f32::INFINITY, f32::NAN, 1e-40] {
            let e = BinaryKind::Div
                .with_constant(false, t(vec![bad]))
                .unwrap_err();
            assert!(e.contains("division by the constant"), "{e}");
        }
        assert!(BinaryKind::Sub.with_constant(true, t(vec![1.0])).is_err());
        assert!(BinaryKind::Div.with_constant(true, t(vec![1.0])).is_err());
        assert!(matches!(BinaryKind::Mul.of_values(), Ok(Op::Mul)));
        assert!(BinaryKind::Div.of_values().is_err());
    }
}
