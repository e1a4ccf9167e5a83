//! `.pdiparams`: the `save_combine` record stream. No header, no count, no names, no padding: one record
//! per persistable variable, in ascending name order, each
//! `u32 version (0) | u64 lod levels (+ each: u64 bytes, offsets) | u32 version (0) | i32 desc length |
//! TensorDesc protobuf | raw little-endian data`. The file must end right after the last record.

use std::path::Path;

use prost::Message;

use super::program_desc::{type_name, var_type, TensorDesc};
use super::ParamDecl;
use crate::error::{Error, Result};
use crate::ir::Tensor;
use crate::load::builder::Const;

/// Reads one record per declaration (`decls` sorted by name, as Paddle writes them) and checks each
/// record's dtype and dims against the program.
pub(crate) fn read_params(
    file: &Path,
    bytes: &[u8],
    decls: &[ParamDecl],
) -> Result<Vec<(String, Const)>> {
    let mut r = Reader { bytes, pos: 0 };
    let mut out = Vec::with_capacity(decls.len());
    for (k, decl) in decls.iter().enumerate() {
        let rec = |reason: String| {
            Error::file(
                file,
                format!(
                    "record {} of {} ('{}'): {reason}",
                    k + 1,
                    decls.len(),
                    decl.name
                ),
            )
        };
        if r.remaining() == 0 {
            return Err(rec(format!(
                "missing: the file ends after {k} records but the program declares {} parameters \
                 (truncated file, or the parameters of another model?)",
                decls.len()
            )));
        }
        let start = r.pos;
        let version = r.u32().map_err(&rec)?;
        if version != 0 {
            return Err(rec(format!(
                "at byte {start}: tensor version {version}, expected 0 (not a .pdiparams record)"
            )));
        }
        let levels = r.u64().map_err(&rec)?;
        if levels > 16 {
            return Err(rec(format!(
                "at byte {start}: {levels} LoD levels (not a .pdiparams record)"
            )));
        }
        for _ in 0..levels {
            let n = r.u64().map_err(&rec)?;
            r.take(n).map_err(&rec)?;
        }
        let version = r.u32().map_err(&rec)?;
        if version != 0 {
            return Err(rec(format!(
                "at byte {start}: tensor version {version}, expected 0 (not a .pdiparams record)"
            )));
        }
        let desc_len = r.i32().map_err(&rec)?;
        let desc_len = u64::try_from(desc_len)
            .map_err(|_| rec(format!("negative tensor description length {desc_len}")))?;
        let desc_bytes = r.take(desc_len).map_err(&rec)?;
        let desc = TensorDesc::decode(desc_bytes).map_err(|e| {
            rec(format!(
                "the tensor description is not a valid TensorDesc protobuf: {e}"
            ))
        })?;
        if desc.data_type != decl.dtype {
            return Err(rec(format!(
                "holds {} data but the program declares {}",
                type_name(desc.data_type),
                type_name(decl.dtype)
            )));
        }
        let dims_match = desc.dims.len() == decl.dims.len()
            && desc
                .dims
                .iter()
                .zip(&decl.dims)
                .all(|(&a, &b)| a == b || b < 0);
        if !dims_match {
            return Err(rec(format!(
                "has dims {:?} but the program declares {:?}",
                desc.dims, decl.dims
            )));
        }
        let shape: Vec<usize> = desc
            .dims
            .iter()
            .map(|&d| {
                usize::try_from(d)
                    .map_err(|_| rec(format!("negative dimension in {:?}", desc.dims)))
            })
            .collect::<Result<_>>()?;
        let numel = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| rec(format!("dims {shape:?} overflow")))?;
        if numel == 0 {
            return Err(rec(format!("empty tensor (dims {shape:?})")));
        }
        let elem = match desc.data_type {
            var_type::FP64 | var_type::INT64 => 8,
            var_type::FP32 | var_type::INT32 => 4,
            var_type::FP16 | var_type::BF16 => 2,
            other => {
                return Err(rec(format!(
                    "data type {} is not supported",
                    type_name(other)
                )))
            }
        };
        let len = numel
            .checked_mul(elem)
            .ok_or_else(|| rec(format!("dims {shape:?} overflow")))?;
        let data_at = r.pos;
        let raw = r.take(len as u64).map_err(|_| {
            rec(format!(
                "truncated: {len} bytes of data for dims {shape:?} start at byte {data_at}, but the file has only {} bytes left",
                bytes.len() - data_at
            ))
        })?;
        out.push((decl.name.clone(), decode(desc.data_type, shape, raw)));
    }
    if r.remaining() != 0 {
        return Err(Error::file(
            file,
            format!(
                "{} bytes follow the {} records the program declares (the file holds more parameters than the \
                 program uses: the parameters of another model?)",
                r.remaining(),
                decls.len()
            ),
        ));
    }
    Ok(out)
}

fn decode(dtype: i32, shape: Vec<usize>, raw: &[u8]) -> Const {
    let f32s = |data: Vec<f32>| Const::F32(Tensor::new(shape.clone(), data));
    match dtype {
        var_type::FP32 => f32s(
            raw.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        var_type::FP64 => f32s(
            raw.chunks_exact(8)
                .map(|c| {
                    f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
                })
                .collect(),
        ),
        var_type::FP16 => f32s(
            raw.chunks_exact(2)
                .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
        ),
        var_type::BF16 => f32s(
            raw.chunks_exact(2)
                .map(|c| f32::from_bits(u32::from(u16::from_le_bytes([c[0], c[1]])) << 16))
                .collect(),
        ),
        var_type::INT64 => Const::I64 {
            data: raw
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
            shape,
        },
        _ => Const::I64 {
            data: raw
                .chunks_exact(4)
                .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect(),
            shape,
        },
    }
}

/// IEEE half to single precision (exact).
fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, m) => {
            // subnormal: normalize
            let shift = m.leading_zeros() - 21;
            let m = (m << shift) & 0x3ff;
            sign | ((113 - shift) << 23) | (m << 13)
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }
    fn take(&mut self, n: u64) -> std::result::Result<&'a [u8], String> {
        let left = self.remaining();
        match usize::try_from(n) {
            Ok(n) if n <= left => {
                let s = &self.bytes[self.pos..self.pos + n];
                self.pos += n;
                Ok(s)
            }
            _ => Err(format!(
                "truncated: needs {n} bytes at byte {}, but the file has only {left} bytes left",
                self.pos
            )),
        }
    }
    fn u32(&mut self) -> std::result::Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i32(&mut self) -> std::result::Result<i32, String> {
        let b = self.take(4)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> std::result::Result<u64, String> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }
}

#[cfg(test)]
mod tests {
    use super::f16_to_f32;

    #[test]
    fn half_to_single() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x0200), 2f32.powi(-15));
        assert!(f16_to_f32(0x7c00).is_infinite());
        assert_eq!(f16_to_f32(0x8000).to_bits(), 0x8000_0000);
    }
}
