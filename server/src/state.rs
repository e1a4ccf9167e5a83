//! What the REST and gRPC front ends share: the limits, the pool, the metrics, readiness, and
//! the inference path from checked request to output tensor.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::oneshot;

use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::pool::{Job, Pool};
use crate::protocol::{self, ErrorKind, InferError, InputTensor, OutputPlan, OutputTensor};

/// Shared server state.
pub struct State {
    /// Request limits.
    pub limits: Limits,
    /// The workers.
    pub pool: Pool,
    /// The metrics.
    pub metrics: Arc<Metrics>,
    /// False once shutdown began.
    accepting: AtomicBool,
}

impl State {
    /// New state, accepting requests.
    pub fn new(limits: Limits, pool: Pool, metrics: Arc<Metrics>) -> Self {
        State {
            limits,
            pool,
            metrics,
            accepting: AtomicBool::new(true),
        }
    }

    /// Ready: accepting requests and every worker alive.
    pub fn ready(&self) -> bool {
        self.accepting.load(Relaxed) && self.pool.healthy()
    }

    /// Refuse new inference requests (shutdown began).
    pub fn stop_accepting(&self) {
        self.accepting.store(false, Relaxed);
    }

    /// Runs a request's inputs through the pool and builds its output; `deadline` bounds the
    /// wait for a worker and the computation.
    pub async fn infer(
        &self,
        inputs: Vec<InputTensor>,
        plan: OutputPlan,
        deadline: Instant,
    ) -> Result<OutputTensor, InferError> {
        if !self.accepting.load(Relaxed) {
            return Err(InferError::new(
                ErrorKind::Unavailable,
                "the server is shutting down",
            ));
        }
        let images = protocol::images(inputs, &self.limits)?;
        let n = images.len();
        let (reply, rx) = oneshot::channel();
        self.pool.submit(Job {
            images,
            deadline,
            reply,
        })?;
        let scores = match tokio::time::timeout_at(deadline.into(), rx).await {
            Ok(Ok(result)) => result?,
            Ok(Err(_)) => {
                // The worker dropped the job: its deadline passed before it started.
                return Err(deadline_error());
            }
            Err(_) => return Err(deadline_error()),
        };
        Ok(protocol::output(&plan, n, scores))
    }
}

/// The error of a request whose deadline passed.
pub fn deadline_error() -> InferError {
    InferError::new(
        ErrorKind::Deadline,
        "the request's deadline passed before it was answered",
    )
}
