//! One Paddle op as the converter sees it: input and output slots, attributes, errors naming the op.

use super::*;

pub(super) struct PaddleAttrs<'a>(pub(super) &'a Ctx<'a>);

impl activation::Attrs for PaddleAttrs<'_> {
    fn float(&self, name: &str) -> Result<Option<f32>> {
        Ok(self.0.float(name)?.map(|v| v as f32))
    }
    fn scalar_input(&self, _: usize) -> Result<Option<f32>> {
        Ok(None)
    }
    fn opset(&self) -> i64 {
        0
    }
    fn err(&self, why: String) -> Error {
        self.0.err(why)
    }
}

impl crate::ops::max_pool::IntAttrs for PaddleAttrs<'_> {
    fn ints(&self, name: &str) -> Result<Option<Vec<i64>>> {
        self.0.ints(name)
    }
    fn int(&self, name: &str) -> Result<Option<i64>> {
        match self.0.attr(name) {
            None => Ok(None),
            Some(_) => self.0.int(name, 0).map(Some),
        }
    }
    fn string(&self, name: &str) -> Result<Option<String>> {
        Ok(self.0.string(name).map(str::to_owned))
    }
}

pub(super) struct Ctx<'a> {
    pub(super) file: &'a Path,
    pub(super) op: &'a PaddleOp,
}

impl Ctx<'_> {
    pub(super) fn err(&self, reason: impl Into<String>) -> Error {
        Error::node(self.file, &self.op.name, &self.op.type_name, reason)
    }
    /// The (first) variable bound to an input slot, if any.
    pub(super) fn arg(&self, slot: &str) -> Option<&str> {
        self.op
            .inputs
            .iter()
            .find(|(s, _)| s == slot)
            .and_then(|(_, a)| a.first())
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }
    pub(super) fn args(&self, slot: &str) -> Vec<&str> {
        self.op
            .inputs
            .iter()
            .filter(|(s, _)| s == slot)
            .flat_map(|(_, a)| a.iter().map(String::as_str))
            .collect()
    }
    pub(super) fn out(&self, slot: &str) -> Result<String> {
        self.op
            .outputs
            .iter()
            .find(|(s, _)| s == slot)
            .and_then(|(_, a)| a.first())
            .cloned()
            .ok_or_else(|| self.err(format!("has no '{slot}' output")))
    }
    pub(super) fn attr(&self, name: &str) -> Option<&Attr> {
        self.op
            .attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a)
    }
    pub(super) fn int(&self, name: &str, default: i64) -> Result<i64> {
        match self.attr(name) {
            None => Ok(default),
            Some(Attr::Int(v)) => Ok(*v),
            Some(Attr::Bool(v)) => Ok(i64::from(*v)),
            Some(Attr::Float(v)) if v.fract() == 0.0 => Ok(*v as i64),
            Some(other) => {
                Err(self.err(format!("attribute '{name}' = {other:?} is not an integer")))
            }
        }
    }
    pub(super) fn float(&self, name: &str) -> Result<Option<f64>> {
        match self.attr(name) {
            None => Ok(None),
            Some(Attr::Float(v)) => Ok(Some(*v)),
            Some(Attr::Int(v)) => Ok(Some(*v as f64)),
            Some(other) => Err(self.err(format!("attribute '{name}' = {other:?} is not a number"))),
        }
    }
    pub(super) fn boolean(&self, name: &str, default: bool) -> Result<bool> {
        match self.attr(name) {
            None => Ok(default),
            Some(Attr::Bool(v)) => Ok(*v),
            Some(Attr::Int(v)) => Ok(*v != 0),
            Some(other) => {
                Err(self.err(format!("attribute '{name}' = {other:?} is not a boolean")))
            }
        }
    }
    pub(super) fn ints(&self, name: &str) -> Result<Option<Vec<i64>>> {
        match self.attr(name) {
            None => Ok(None),
            Some(Attr::Ints(v)) => Ok(Some(v.clone())),
            Some(Attr::Int(v)) => Ok(Some(vec![*v])),
            Some(other) => Err(self.err(format!(
                "attribute '{name}' = {other:?} is not a list of integers"
            ))),
        }
    }
    pub(super) fn string(&self, name: &str) -> Option<&str> {
        match self.attr(name) {
            Some(Attr::Str(s)) => Some(s),
            _ => None,
        }
    }
    pub(super) fn sym(&self, b: &Builder, slot: &str) -> Result<Sym> {
        let name = self
            .arg(slot)
            .ok_or_else(|| self.err(format!("missing input '{slot}'")))?;
        self.sym_named(b, name)
    }
    pub(super) fn sym_named(&self, b: &Builder, name: &str) -> Result<Sym> {
        b.lookup(name).cloned().ok_or_else(|| {
            self.err(format!(
                "input '{name}' is not produced by any earlier op or parameter"
            ))
        })
    }
    pub(super) fn value(&self, b: &Builder, slot: &str) -> Result<ValueId> {
        match self.sym(b, slot)? {
            Sym::Value(v) => Ok(v),
            Sym::Const(_) => Err(self.err(format!(
                "input '{slot}' is a constant where a computed tensor is expected"
            ))),
        }
    }
    pub(super) fn konst(&self, b: &Builder, slot: &str) -> Result<Const> {
        match self.sym(b, slot)? {
            Sym::Const(c) => Ok(c),
            Sym::Value(_) => Err(self.err(format!(
                "input '{slot}' ('{}') must be a parameter or constant but is computed at run time",
                self.arg(slot).unwrap_or("?")
            ))),
        }
    }
    pub(super) fn const_ints(&self, b: &Builder, slot: &str) -> Result<Vec<i64>> {
        self.konst(b, slot)?
            .as_i64()
            .ok_or_else(|| self.err(format!("input '{slot}' must hold integers")))
    }
    pub(super) fn check_nchw(&self) -> Result<()> {
        for key in ["data_format", "data_layout"] {
            if let Some(f) = self.string(key) {
                if f != "NCHW" && f != "AnyLayout" {
                    return Err(self.err(format!("{key} '{f}' is not supported (only NCHW)")));
                }
            }
        }
        Ok(())
    }
}
