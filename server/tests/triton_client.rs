//! Triton's own Python clients (`tritonclient.http` and `tritonclient.grpc`, from PyPI) against
//! the server binary: `tools/triton_client_check.py` checks metadata, raw and encoded-image
//! inference bit for bit against `classify`, the classification extension, the error forms, and
//! 503 / UNAVAILABLE from a full queue, DEADLINE_EXCEEDED once `--deadline-ms` passes.
//! Needs `.venv-triton` (`tools/setup_server_venv.sh`, run by `.ci/run`); without it the test
//! says `skipped: <why>` on stderr (unless `PPLCNET_REQUIRE_TRITON` is set: then it fails).

mod common;

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use common::*;
use pplcnet::preprocess::{decode_image, preprocess_into};
use pplcnet::{INPUT_HEIGHT, INPUT_LEN, INPUT_WIDTH, LABELS, NUM_CLASSES};

const MAX_BODY: usize = 4 << 20;
const MAX_BATCH: usize = 8;

#[test]
fn tritonclient_http_and_grpc() {
    let python = root().join(".venv-triton/bin/python");
    if !python.exists() {
        // CI sets this: there the venv must exist, a skip would hide a broken set-up.
        if std::env::var_os("PPLCNET_REQUIRE_TRITON").is_some() {
            panic!(
                "{} missing and PPLCNET_REQUIRE_TRITON is set",
                python.display()
            );
        }
        writeln!(
            std::io::stderr(),
            "skipped: tritonclient_http_and_grpc: {} missing (run tools/setup_server_venv.sh)",
            python.display()
        )
        .unwrap();
        return;
    }
    let dir = std::env::temp_dir().join(format!("pplcnet-triton-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    // Raw inputs and what classify() gives for them.
    let raw: Vec<u8> = (1..=3).flat_map(input).collect();
    std::fs::write(dir.join("raw.u8"), &raw).unwrap();
    std::fs::write(dir.join("raw.expected.f32"), f32_bytes(&expected(&raw))).unwrap();
    // Encoded images (a PNG and a JPEG from the repository), preprocessed like the CLI.
    let mut enc_expected = Vec::new();
    let cfg = pplcnet::predict::model_preprocess_config();
    for (i, p) in [
        "model_assets/chelsea.png",
        "tests/data/preprocess/photo_320x240.jpg",
    ]
    .iter()
    .enumerate()
    {
        let bytes = std::fs::read(root().join(p)).unwrap();
        let ext = p.rsplit('.').next().unwrap();
        std::fs::write(dir.join(format!("image_{i}.{ext}")), &bytes).unwrap();
        let mut buf = vec![0u8; INPUT_LEN];
        preprocess_into(&decode_image(&bytes).unwrap(), &cfg, &mut buf).unwrap();
        enc_expected.extend_from_slice(&pplcnet::classify(buf.as_slice().try_into().unwrap()));
    }
    std::fs::write(dir.join("encoded.expected.f32"), f32_bytes(&enc_expected)).unwrap();
    std::fs::write(dir.join("labels.txt"), LABELS.join("\n")).unwrap();
    std::fs::write(dir.join("bomb.png"), bomb_png(10_000, 10_000)).unwrap();
    let meta = serde_json::json!({
        "model": "pplcnet", "height": INPUT_HEIGHT, "width": INPUT_WIDTH, "classes": NUM_CLASSES,
        "output": output_name(), "max_batch": MAX_BATCH, "max_body_bytes": MAX_BODY,
    });
    std::fs::write(dir.join("meta.json"), meta.to_string()).unwrap();

    let server = Server::start(&[
        "--workers",
        "2",
        "--max-body-bytes",
        &MAX_BODY.to_string(),
        "--max-batch",
        &MAX_BATCH.to_string(),
        "--max-pixels",
        "25000000",
    ]);
    let busy = Server::start(&["--workers", "1", "--queue-depth", "1"]);
    // A deadline shorter than one image's compute: gRPC answers DEADLINE_EXCEEDED.
    let late = Server::start(&["--workers", "1", "--deadline-ms", "1"]);
    let mut child = Command::new(&python)
        .arg(root().join("tools/triton_client_check.py"))
        .args(["--http", &server.rest.to_string()])
        .args(["--grpc", &server.grpc.to_string()])
        .args(["--busy-http", &busy.rest.to_string()])
        .args(["--busy-grpc", &busy.grpc.to_string()])
        .args(["--late-grpc", &late.grpc.to_string()])
        .arg(&dir)
        .spawn()
        .expect("run tools/triton_client_check.py");
    let finished = wait_until(Duration::from_secs(120), || {
        child.try_wait().unwrap().is_some()
    });
    if !finished {
        let _ = child.kill();
        panic!("triton_client_check.py still running after 120 s");
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "triton_client_check.py failed: {status}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
