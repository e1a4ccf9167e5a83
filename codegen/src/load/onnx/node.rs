//! One ONNX node as the converter sees it: attributes, inputs as values or constants, errors
//! naming the node.

use super::*;

/// An ONNX node's attributes and constant inputs, as [`activation::from_onnx`] reads them.
pub(super) struct OnnxAttrs<'a> {
    pub(super) ctx: &'a NodeCtx<'a>,
    pub(super) b: &'a Builder,
}

impl activation::Attrs for OnnxAttrs<'_> {
    fn float(&self, name: &str) -> Result<Option<f32>> {
        Ok(self.ctx.attr(name).map(|a| a.f))
    }
    fn scalar_input(&self, i: usize) -> Result<Option<f32>> {
        match self.ctx.input_name(i) {
            None => Ok(None),
            Some(_) => {
                let t = self.ctx.konst_f32(self.b, i)?;
                match t.data.first() {
                    Some(&v) => Ok(Some(v)),
                    None => Err(self.ctx.err("empty clip bound")),
                }
            }
        }
    }
    fn opset(&self) -> i64 {
        self.ctx.opset
    }
    fn err(&self, why: String) -> Error {
        self.ctx.err(why)
    }
}

impl crate::ops::max_pool::IntAttrs for OnnxAttrs<'_> {
    fn ints(&self, name: &str) -> Result<Option<Vec<i64>>> {
        Ok(self.ctx.attr_ints(name))
    }
    fn int(&self, name: &str) -> Result<Option<i64>> {
        Ok(self.ctx.attr(name).map(|a| a.i))
    }
    fn string(&self, name: &str) -> Result<Option<String>> {
        Ok(self.ctx.attr_s(name))
    }
}

pub(super) struct NodeCtx<'a> {
    pub(super) file: &'a Path,
    pub(super) node: &'a NodeProto,
    pub(super) opset: i64,
}

impl NodeCtx<'_> {
    pub(super) fn err(&self, reason: impl Into<String>) -> Error {
        let name = if self.node.name.is_empty() {
            self.node.output.first().map_or("?", |s| s.as_str())
        } else {
            &self.node.name
        };
        Error::node(self.file, name, &self.node.op_type, reason)
    }
    pub(super) fn name(&self) -> String {
        if self.node.name.is_empty() {
            self.node.output.first().cloned().unwrap_or_default()
        } else {
            self.node.name.clone()
        }
    }
    pub(super) fn attr(&self, name: &str) -> Option<&AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == name)
    }
    pub(super) fn attr_i(&self, name: &str, default: i64) -> i64 {
        self.attr(name).map_or(default, |a| a.i)
    }
    pub(super) fn attr_f(&self, name: &str, default: f32) -> f32 {
        self.attr(name).map_or(default, |a| a.f)
    }
    pub(super) fn attr_ints(&self, name: &str) -> Option<Vec<i64>> {
        self.attr(name).map(|a| a.ints.clone())
    }
    pub(super) fn attr_s(&self, name: &str) -> Option<String> {
        self.attr(name)
            .map(|a| String::from_utf8_lossy(&a.s).into_owned())
    }
    pub(super) fn input_name(&self, i: usize) -> Option<&str> {
        self.node
            .input
            .get(i)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }
    pub(super) fn output_name(&self) -> Result<&str> {
        self.node
            .output
            .first()
            .map(String::as_str)
            .ok_or_else(|| self.err("has no output"))
    }
    pub(super) fn sym(&self, b: &Builder, i: usize) -> Result<Sym> {
        let name = self
            .input_name(i)
            .ok_or_else(|| self.err(format!("missing input #{i}")))?;
        b.lookup(name).cloned().ok_or_else(|| {
            self.err(format!(
                "input '{name}' is not produced by any earlier node or initializer"
            ))
        })
    }
    pub(super) fn value(&self, b: &Builder, i: usize) -> Result<ValueId> {
        match self.sym(b, i)? {
            Sym::Value(v) => Ok(v),
            Sym::Const(_) => Err(self.err(format!(
                "input #{i} is a constant where a computed tensor is expected"
            ))),
        }
    }
    pub(super) fn konst(&self, b: &Builder, i: usize) -> Result<Const> {
        match self.sym(b, i)? {
            Sym::Const(c) => Ok(c),
            Sym::Value(_) => Err(self.err(format!(
                "input #{i} ('{}') must be a constant (initializer) but is computed at run time",
                self.input_name(i).unwrap_or("?")
            ))),
        }
    }
    pub(super) fn konst_f32(&self, b: &Builder, i: usize) -> Result<Tensor> {
        Ok(self.konst(b, i)?.to_f32())
    }
    pub(super) fn ints(&self, b: &Builder, i: usize) -> Result<Vec<i64>> {
        self.konst(b, i)?
            .as_i64()
            .ok_or_else(|| self.err(format!("input #{i} must hold integers")))
    }
}
