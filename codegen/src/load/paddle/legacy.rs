//! Legacy `.pdmodel` (`ProgramDesc` protobuf, written by Paddle 2.x and by Paddle 3 with the PIR API off)
//! -> [`Program`].

use std::collections::BTreeMap;
use std::path::Path;

use prost::Message;

use super::program_desc::{attr_type, var_type, OpAttr, OpDesc, ProgramDesc, VarDesc};
use super::{Attr, PaddleOp, ParamDecl, Program};
use crate::error::{Error, Result};

/// Decodes a `.pdmodel` file: block 0's ops, the persistable variables (the parameter file's records,
/// sorted by name), the feed and the fetch target.
pub(crate) fn parse(file: &Path, bytes: &[u8]) -> Result<Program> {
    let program = ProgramDesc::decode(bytes).map_err(|e| {
        Error::file(
            file,
            format!("not a Paddle program: the file is not a valid ProgramDesc protobuf ({e})"),
        )
    })?;
    let block = program
        .blocks
        .first()
        .filter(|b| !b.ops.is_empty())
        .ok_or_else(|| {
            Error::file(
                file,
                "the program has no operators (is this a .pdmodel file?)",
            )
        })?;

    // Parameters: every persistable variable of every block except feed / fetch / reader / raw holders,
    // sorted by name (Paddle's save_combine order).
    let mut params = BTreeMap::new();
    for var in program.blocks.iter().flat_map(|b| &b.vars) {
        let t = var.r#type.r#type;
        let skip = matches!(
            t,
            var_type::FEED_MINIBATCH | var_type::FETCH_LIST | var_type::READER | var_type::RAW
        );
        if var.persistable.unwrap_or(false) && !skip {
            let desc = var.r#type.lod_tensor.as_ref().ok_or_else(|| {
                Error::file(
                    file,
                    format!(
                        "persistable variable '{}' is not a dense tensor (type {t})",
                        var.name
                    ),
                )
            })?;
            params.insert(
                var.name.clone(),
                ParamDecl {
                    name: var.name.clone(),
                    dtype: desc.tensor.data_type,
                    dims: desc.tensor.dims.clone(),
                },
            );
        }
    }

    let vars: BTreeMap<&str, &VarDesc> = block.vars.iter().map(|v| (v.name.as_str(), v)).collect();
    let mut ops = Vec::new();
    let (mut input_name, mut output_name) = (Vec::new(), Vec::new());
    for op in &block.ops {
        match op.r#type.as_str() {
            "feed" => input_name.extend(slot(op, false, "Out")),
            "fetch" => output_name.extend(slot(op, true, "X")),
            _ => ops.push(normalize(op)),
        }
    }
    let one = |names: Vec<String>, what: &str| match names.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::file(file, format!("the program has no {what} op"))),
        many => Err(Error::file(
            file,
            format!(
                "the program has {} {what} targets ({}); exactly one is supported",
                many.len(),
                many.join(", ")
            ),
        )),
    };
    let input_name = one(input_name, "feed")?;
    let output_name = one(output_name, "fetch")?;
    let input_dims = vars
        .get(input_name.as_str())
        .and_then(|v| v.r#type.lod_tensor.as_ref())
        .map(|d| d.tensor.dims.clone());
    Ok(Program {
        ops,
        params: params.into_values().collect(),
        input_name,
        input_dims,
        output_name,
    })
}

fn slot(op: &OpDesc, input: bool, name: &str) -> Vec<String> {
    let list = if input { &op.inputs } else { &op.outputs };
    list.iter()
        .filter(|v| v.parameter == name)
        .flat_map(|v| v.arguments.iter().cloned())
        .collect()
}

fn normalize(op: &OpDesc) -> PaddleOp {
    let vars = |list: &[super::program_desc::OpVar]| -> Vec<(String, Vec<String>)> {
        list.iter()
            .map(|v| (v.parameter.clone(), v.arguments.clone()))
            .collect()
    };
    let outputs = vars(&op.outputs);
    // Name the node after its main output (Out / Output / Y), else the first output argument.
    let name = ["Out", "Output", "Y"]
        .iter()
        .find_map(|s| {
            outputs
                .iter()
                .find(|(p, a)| p == s && !a.is_empty())
                .map(|(_, a)| a[0].clone())
        })
        .or_else(|| outputs.iter().flat_map(|(_, a)| a.first()).next().cloned())
        .unwrap_or_else(|| op.r#type.clone());
    PaddleOp {
        kind: op.r#type.clone(),
        type_name: op.r#type.clone(),
        name,
        inputs: vars(&op.inputs),
        outputs,
        attrs: op.attrs.iter().map(|a| (a.name.clone(), attr(a))).collect(),
    }
}

fn attr(a: &OpAttr) -> Attr {
    match a.r#type {
        attr_type::INT => Attr::Int(i64::from(a.i.unwrap_or(0))),
        attr_type::LONG => Attr::Int(a.l.unwrap_or(0)),
        attr_type::FLOAT => Attr::Float(f64::from(a.f.unwrap_or(0.0))),
        attr_type::FLOAT64 => Attr::Float(a.float64.unwrap_or(0.0)),
        attr_type::STRING => Attr::Str(a.s.clone().unwrap_or_default()),
        attr_type::BOOLEAN => Attr::Bool(a.b.unwrap_or(false)),
        attr_type::INTS => Attr::Ints(a.ints.iter().map(|&v| i64::from(v)).collect()),
        attr_type::LONGS => Attr::Ints(a.longs.clone()),
        attr_type::FLOATS => Attr::Floats(a.floats.iter().map(|&v| f64::from(v)).collect()),
        attr_type::FLOAT64S => Attr::Floats(a.float64s.clone()),
        attr_type::BOOLEANS => Attr::Bools(a.bools.clone()),
        attr_type::STRINGS => Attr::Strs(a.strings.clone()),
        attr_type::SCALAR => match &a.scalar {
            Some(s) => match s.r#type {
                1 => Attr::Bool(s.b.unwrap_or(false)),
                2 => Attr::Int(s.i.unwrap_or(0)),
                3 => Attr::Float(s.r.unwrap_or(0.0)),
                _ => Attr::Other,
            },
            None => Attr::Other,
        },
        _ => Attr::Other,
    }
}
