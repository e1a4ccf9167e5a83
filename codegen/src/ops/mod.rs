//! Per-operation knowledge that spans the pipeline: for each op kept here, how the ONNX and Paddle
//! front ends produce it, how the scalar interpreter computes it and how it is emitted, in one
//! module (see ARCHITECTURE.md for what lives where).

pub mod activation;
pub mod binary;
pub mod max_pool;
