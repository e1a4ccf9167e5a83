//! The gRPC front end: `inference.GRPCInferenceService` on tonic.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tonic::{Code, Request, Response, Status};

use crate::pb::grpc_inference_service_server::GrpcInferenceService;
use crate::pb::infer_parameter::ParameterChoice;
use crate::pb::{self, model_infer_response, model_metadata_response::TensorMetadata};
use crate::protocol::{self, ErrorKind, InferError, InputData, InputTensor, OutputRequest};
use crate::state::State;

/// The service, over the shared state.
pub struct Service(pub Arc<State>);

fn code(kind: ErrorKind) -> Code {
    match kind {
        ErrorKind::BadRequest => Code::InvalidArgument,
        ErrorKind::NotFound => Code::NotFound,
        ErrorKind::TooLarge => Code::ResourceExhausted,
        ErrorKind::Unavailable => Code::Unavailable,
        ErrorKind::Deadline => Code::DeadlineExceeded,
        ErrorKind::Internal => Code::Internal,
    }
}

impl Service {
    fn fail(&self, e: InferError) -> Status {
        let c = code(e.kind);
        self.0.metrics.request("grpc", &format!("{c:?}"));
        Status::new(c, e.message)
    }

    fn ok<T>(&self, t: T) -> Result<Response<T>, Status> {
        self.0.metrics.request("grpc", "OK");
        Ok(Response::new(t))
    }

    async fn model_infer_inner(
        &self,
        req: pb::ModelInferRequest,
        deadline: Instant,
    ) -> Result<pb::ModelInferResponse, InferError> {
        let s = &self.0;
        protocol::check_model(&s.limits, &req.model_name, &req.model_version)?;
        let outputs: Vec<OutputRequest> = req
            .outputs
            .iter()
            .map(|o| {
                let classification = match o.parameters.get("classification") {
                    None => None,
                    Some(p) => Some(int_param(p).ok_or_else(|| {
                        InferError::bad("output parameter 'classification' must be an integer")
                    })?),
                };
                Ok(OutputRequest {
                    name: o.name.clone(),
                    classification,
                    binary: None,
                })
            })
            .collect::<Result<_, InferError>>()?;
        let plan = protocol::plan_output(&outputs, true)?;
        let raw = req.raw_input_contents;
        if !raw.is_empty() && raw.len() != req.inputs.len() {
            return Err(InferError::bad(format!(
                "{} raw input contents for {} inputs",
                raw.len(),
                req.inputs.len()
            )));
        }
        let mut raw = raw.into_iter();
        let inputs = req
            .inputs
            .into_iter()
            .map(|t| {
                let data = match (raw.next(), t.contents) {
                    (Some(r), _) => InputData::Raw(r),
                    (None, Some(c)) => contents(&t.datatype, c),
                    (None, None) => InputData::Missing,
                };
                InputTensor {
                    name: t.name,
                    datatype: t.datatype,
                    shape: t.shape,
                    data,
                }
            })
            .collect();
        let out = s.infer(inputs, plan, deadline).await?;
        let raw = out.to_raw();
        Ok(pb::ModelInferResponse {
            model_name: req.model_name,
            model_version: protocol::MODEL_VERSION.to_string(),
            id: req.id,
            parameters: HashMap::new(),
            outputs: vec![model_infer_response::InferOutputTensor {
                name: out.name.to_string(),
                datatype: out.datatype.to_string(),
                shape: out.shape.to_vec(),
                parameters: HashMap::new(),
                contents: None,
            }],
            raw_output_contents: vec![Bytes::from(raw)],
        })
    }
}

fn int_param(p: &pb::InferParameter) -> Option<i64> {
    match p.parameter_choice {
        Some(ParameterChoice::Int64Param(v)) => Some(v),
        Some(ParameterChoice::Uint64Param(v)) => i64::try_from(v).ok(),
        _ => None,
    }
}

/// Typed tensor contents as input data.
fn contents(datatype: &str, c: pb::InferTensorContents) -> InputData {
    match datatype {
        "UINT8" => {
            let mut out = Vec::with_capacity(c.uint_contents.len());
            for v in c.uint_contents {
                match u8::try_from(v) {
                    Ok(b) => out.push(b),
                    Err(_) => {
                        return InputData::Invalid(format!("value {v} is out of range for UINT8"))
                    }
                }
            }
            InputData::U8(out)
        }
        "BYTES" => InputData::Elements(c.bytes_contents.into_iter().map(Bytes::from).collect()),
        _ => InputData::Invalid(format!(
            "contents for datatype {datatype} are not supported"
        )),
    }
}

#[tonic::async_trait]
impl GrpcInferenceService for Service {
    async fn server_live(
        &self,
        _: Request<pb::ServerLiveRequest>,
    ) -> Result<Response<pb::ServerLiveResponse>, Status> {
        self.ok(pb::ServerLiveResponse { live: true })
    }

    async fn server_ready(
        &self,
        _: Request<pb::ServerReadyRequest>,
    ) -> Result<Response<pb::ServerReadyResponse>, Status> {
        self.ok(pb::ServerReadyResponse {
            ready: self.0.ready(),
        })
    }

    async fn model_ready(
        &self,
        req: Request<pb::ModelReadyRequest>,
    ) -> Result<Response<pb::ModelReadyResponse>, Status> {
        let r = req.into_inner();
        protocol::check_model(&self.0.limits, &r.name, &r.version).map_err(|e| self.fail(e))?;
        self.ok(pb::ModelReadyResponse {
            ready: self.0.ready(),
        })
    }

    async fn server_metadata(
        &self,
        _: Request<pb::ServerMetadataRequest>,
    ) -> Result<Response<pb::ServerMetadataResponse>, Status> {
        self.ok(pb::ServerMetadataResponse {
            name: "pplcnet-server".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            extensions: protocol::EXTENSIONS.iter().map(|s| s.to_string()).collect(),
        })
    }

    async fn model_metadata(
        &self,
        req: Request<pb::ModelMetadataRequest>,
    ) -> Result<Response<pb::ModelMetadataResponse>, Status> {
        let r = req.into_inner();
        protocol::check_model(&self.0.limits, &r.name, &r.version).map_err(|e| self.fail(e))?;
        self.ok(pb::ModelMetadataResponse {
            name: r.name,
            versions: vec![protocol::MODEL_VERSION.into()],
            platform: protocol::PLATFORM.into(),
            inputs: vec![TensorMetadata {
                name: protocol::INPUT_NAME.into(),
                datatype: "UINT8".into(),
                shape: protocol::input_shape().to_vec(),
            }],
            outputs: vec![TensorMetadata {
                name: protocol::output_name().into(),
                datatype: "FP32".into(),
                shape: protocol::output_shape().to_vec(),
            }],
        })
    }

    async fn model_infer(
        &self,
        req: Request<pb::ModelInferRequest>,
    ) -> Result<Response<pb::ModelInferResponse>, Status> {
        let start = Instant::now();
        let deadline = start + self.0.limits.deadline;
        let result = self.model_infer_inner(req.into_inner(), deadline).await;
        self.0.metrics.infer_latency("grpc", start.elapsed());
        match result {
            Ok(r) => self.ok(r),
            Err(e) => Err(self.fail(e)),
        }
    }
}
