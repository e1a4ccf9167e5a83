//! The subset of Paddle's `framework.proto` (package `paddle.framework.proto`, proto2) that the legacy
//! `.pdmodel` reader needs, as hand-written prost messages (no `protoc` at build time).
//!
//! Field numbers follow `paddle/fluid/framework/framework.proto`; they are the same in Paddle 2.x and 3.x
//! (3.x renamed `LoDTensorDesc` to `DenseTensorDesc` without changing the wire format). Enums are read as
//! plain `int32` so that values this reader does not know decode instead of failing. Repeated scalars are
//! declared unpacked, as C++ writes them; prost accepts both encodings when decoding.

/// `ProgramDesc`: the whole `.pdmodel` file, with no header.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ProgramDesc {
    #[prost(message, repeated, tag = "1")]
    pub blocks: Vec<BlockDesc>,
    #[prost(message, optional, tag = "4")]
    pub version: Option<Version>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Version {
    #[prost(int64, optional, tag = "1")]
    pub version: Option<i64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BlockDesc {
    #[prost(int32, required, tag = "1")]
    pub idx: i32,
    #[prost(int32, required, tag = "2")]
    pub parent_idx: i32,
    #[prost(message, repeated, tag = "3")]
    pub vars: Vec<VarDesc>,
    #[prost(message, repeated, tag = "4")]
    pub ops: Vec<OpDesc>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct OpDesc {
    #[prost(message, repeated, tag = "1")]
    pub inputs: Vec<OpVar>,
    #[prost(message, repeated, tag = "2")]
    pub outputs: Vec<OpVar>,
    #[prost(string, required, tag = "3")]
    pub r#type: String,
    #[prost(message, repeated, tag = "4")]
    pub attrs: Vec<OpAttr>,
}

/// `OpDesc.Var`: one input or output slot (`parameter`, e.g. "X") and the variables bound to it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OpVar {
    #[prost(string, required, tag = "1")]
    pub parameter: String,
    #[prost(string, repeated, tag = "2")]
    pub arguments: Vec<String>,
}

/// `AttrType` values.
pub mod attr_type {
    pub const INT: i32 = 0;
    pub const FLOAT: i32 = 1;
    pub const STRING: i32 = 2;
    pub const INTS: i32 = 3;
    pub const FLOATS: i32 = 4;
    pub const STRINGS: i32 = 5;
    pub const BOOLEAN: i32 = 6;
    pub const BOOLEANS: i32 = 7;
    pub const LONG: i32 = 9;
    pub const LONGS: i32 = 11;
    pub const FLOAT64S: i32 = 12;
    pub const FLOAT64: i32 = 15;
    pub const SCALAR: i32 = 16;
}

/// `OpDesc.Attr`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OpAttr {
    #[prost(string, required, tag = "1")]
    pub name: String,
    #[prost(int32, required, tag = "2")]
    pub r#type: i32,
    #[prost(int32, optional, tag = "3")]
    pub i: Option<i32>,
    #[prost(float, optional, tag = "4")]
    pub f: Option<f32>,
    #[prost(string, optional, tag = "5")]
    pub s: Option<String>,
    #[prost(int32, repeated, packed = "false", tag = "6")]
    pub ints: Vec<i32>,
    #[prost(float, repeated, packed = "false", tag = "7")]
    pub floats: Vec<f32>,
    #[prost(string, repeated, tag = "8")]
    pub strings: Vec<String>,
    #[prost(bool, optional, tag = "10")]
    pub b: Option<bool>,
    #[prost(bool, repeated, packed = "false", tag = "11")]
    pub bools: Vec<bool>,
    #[prost(int64, optional, tag = "13")]
    pub l: Option<i64>,
    #[prost(int64, repeated, packed = "false", tag = "15")]
    pub longs: Vec<i64>,
    #[prost(double, repeated, packed = "false", tag = "16")]
    pub float64s: Vec<f64>,
    #[prost(double, optional, tag = "19")]
    pub float64: Option<f64>,
    #[prost(message, optional, tag = "20")]
    pub scalar: Option<Scalar>,
}

/// `Scalar` (Paddle 3.x attributes of type SCALAR).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Scalar {
    /// BOOLEAN=1, LONG=2, FLOAT64=3, COMPLEX128=4
    #[prost(int32, required, tag = "1")]
    pub r#type: i32,
    #[prost(bool, optional, tag = "2")]
    pub b: Option<bool>,
    #[prost(int64, optional, tag = "3")]
    pub i: Option<i64>,
    #[prost(double, optional, tag = "4")]
    pub r: Option<f64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct VarDesc {
    #[prost(string, required, tag = "1")]
    pub name: String,
    #[prost(message, required, tag = "2")]
    pub r#type: VarType,
    #[prost(bool, optional, tag = "3")]
    pub persistable: Option<bool>,
}

/// `VarType.Type` values used here.
pub mod var_type {
    pub const BOOL: i32 = 0;
    pub const INT16: i32 = 1;
    pub const INT32: i32 = 2;
    pub const INT64: i32 = 3;
    pub const FP16: i32 = 4;
    pub const FP32: i32 = 5;
    pub const FP64: i32 = 6;
    pub const FEED_MINIBATCH: i32 = 9;
    pub const FETCH_LIST: i32 = 10;
    pub const READER: i32 = 15;
    pub const RAW: i32 = 17;
    pub const UINT8: i32 = 20;
    pub const INT8: i32 = 21;
    pub const BF16: i32 = 22;
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct VarType {
    #[prost(int32, required, tag = "1")]
    pub r#type: i32,
    /// `LoDTensorDesc` (2.x) / `DenseTensorDesc` (3.x).
    #[prost(message, optional, tag = "3")]
    pub lod_tensor: Option<LodTensorDesc>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LodTensorDesc {
    #[prost(message, required, tag = "1")]
    pub tensor: TensorDesc,
    #[prost(int32, optional, tag = "2")]
    pub lod_level: Option<i32>,
}

/// `VarType.TensorDesc`: also the header of every `.pdiparams` record.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorDesc {
    #[prost(int32, required, tag = "1")]
    pub data_type: i32,
    #[prost(int64, repeated, packed = "false", tag = "2")]
    pub dims: Vec<i64>,
}

/// A readable name of a `VarType.Type` value.
pub fn type_name(t: i32) -> String {
    match t {
        var_type::BOOL => "bool".into(),
        var_type::INT16 => "int16".into(),
        var_type::INT32 => "int32".into(),
        var_type::INT64 => "int64".into(),
        var_type::FP16 => "float16".into(),
        var_type::FP32 => "float32".into(),
        var_type::FP64 => "float64".into(),
        var_type::UINT8 => "uint8".into(),
        var_type::INT8 => "int8".into(),
        var_type::BF16 => "bfloat16".into(),
        other => format!("type {other}"),
    }
}
