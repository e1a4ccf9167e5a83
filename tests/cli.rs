//! The `pplcnet` command line, run as a process: every command, the output formats, error paths.
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pplcnet::preprocess::{load_image, preprocess_into, PreprocessConfig};
use pplcnet::{report, INPUT_LEN, LABELS, NUM_CLASSES};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pplcnet"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run pplcnet")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/preprocess")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pplcnet-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// What `predict` must print for `path`, computed in-process with the library.
fn expected_line(path: &str, k: usize) -> String {
    let img = load_image(Path::new(path)).unwrap();
    let mut buf = Box::new([0u8; INPUT_LEN]);
    preprocess_into(&img, &PreprocessConfig::default(), &mut buf[..]).unwrap();
    let probs = pplcnet::classify(&buf);
    let top = pplcnet::top_k_vec(&probs, k);
    let name = Path::new(path)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    report::predict_line(&name, &top, &LABELS[..])
}

/// The numbers of a JSON array value `"key": [..]` in a line we printed ourselves.
fn json_array<'a>(line: &'a str, key: &str) -> Vec<&'a str> {
    let start = line
        .find(&format!("\"{key}\": ["))
        .unwrap_or_else(|| panic!("no {key} in {line}"))
        + key.len()
        + 5;
    let end = start + line[start..].find(']').unwrap();
    let body = &line[start..end];
    if body.is_empty() {
        vec![]
    } else {
        body.split(", ").collect()
    }
}

#[test]
fn version_and_help() {
    let o = run(&["--version"]);
    assert!(o.status.success());
    assert!(stdout(&o).starts_with("pplcnet "), "{}", stdout(&o));
    for cmd in ["predict", "eval", "bench", "preprocess", "info"] {
        let o = run(&[cmd, "--help"]);
        assert!(o.status.success(), "{cmd} --help");
        assert!(stdout(&o).contains("Usage: pplcnet"), "{cmd}");
    }
    let o = run(&["no-such-command"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["predict"]); // PATH is required
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn predict_line_matches_library_byte_for_byte() {
    let imgs = [
        data("photo_500x375.png"),
        data("photo_1024x683.png"),
        data("photo_320x240.jpg"),
    ];
    let o = run(&["predict", &imgs[0], &imgs[1], &imgs[2]]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want: String = imgs.iter().map(|p| expected_line(p, 5) + "\n").collect();
    assert_eq!(stdout(&o), want);
    // shape of the line, independent of the model
    let first = stdout(&o).lines().next().unwrap().to_owned();
    assert!(
        first.starts_with("photo_500x375.png:\tclass id(s): ["),
        "{first}"
    );
    assert!(
        first.contains("], score(s): [") && first.contains("], label_name(s): ["),
        "{first}"
    );
    // --topk
    let o = run(&["predict", "--topk", "3", &imgs[0]]);
    assert_eq!(stdout(&o), expected_line(&imgs[0], 3) + "\n");
    // more threads, same output in the same order
    let o2 = run(&[
        "predict",
        "--batch-threads",
        "2",
        &imgs[0],
        &imgs[1],
        &imgs[2],
    ]);
    assert_eq!(stdout(&o2), want);
}

#[test]
fn predict_json_and_logits() {
    let img = data("photo_500x375.png");
    let o = run(&["predict", "--json", "--logits", &img]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1);
    let l = lines[0];
    assert!(
        l.starts_with(&format!("{{\"filename\": \"{img}\", \"class_ids\": [")),
        "{l}"
    );
    assert_eq!(json_array(l, "class_ids").len(), 5);
    assert_eq!(json_array(l, "scores").len(), 5);
    // label names contain ", " themselves: count the strings instead
    let names = &l[l.find("\"label_names\": [\"").unwrap()..];
    let names = &names[..names.find("\"]").unwrap()];
    assert_eq!(names.matches("\", \"").count() + 1, 5, "{names}");
    let logits = json_array(l, "logits");
    assert_eq!(logits.len(), NUM_CLASSES);
    // the scores are the logits of the class ids
    for (id, s) in json_array(l, "class_ids")
        .iter()
        .zip(json_array(l, "scores"))
    {
        let id: usize = id.parse().unwrap();
        assert_eq!(logits[id], s);
    }
    let o = run(&["predict", "--json", &img]);
    assert!(!stdout(&o).contains("logits"));
    // --logits without --json is a usage error
    assert_eq!(run(&["predict", "--logits", &img]).status.code(), Some(2));
}

#[test]
fn preprocess_then_predict_rgb_is_the_same() {
    let d = scratch("rgb");
    let img = data("photo_1024x683.png");
    let rgb = d.join("photo.rgb");
    let o = run(&["preprocess", &img, "-o", rgb.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&rgb).unwrap();
    assert_eq!(bytes.len(), INPUT_LEN);
    // exactly OpenCV's pipeline output
    let want = image::open(data("photo_1024x683.expected.png"))
        .unwrap()
        .to_rgb8()
        .into_raw();
    assert_eq!(bytes, want);
    // to stdout
    let o = run(&["preprocess", &img, "-o", "-"]);
    assert_eq!(o.stdout, want);
    // the .rgb goes straight to the model: same JSON apart from the filename
    let a = stdout(&run(&["predict", "--json", "--logits", &img]));
    let b = stdout(&run(&[
        "predict",
        "--json",
        "--logits",
        rgb.to_str().unwrap(),
    ]));
    let strip = |s: &str| s[s.find("\"class_ids\"").unwrap()..].to_owned();
    assert_eq!(strip(&a), strip(&b));
}

#[test]
fn preprocess_errors() {
    let d = scratch("pre-err");
    let out = d.join("x.rgb");
    let o = run(&[
        "preprocess",
        &data("empty.jpg"),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("empty.jpg"), "{}", stderr(&o));
    assert!(!out.exists());
    let o = run(&[
        "preprocess",
        &data("photo_200x300.png"),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--allow-upscale"), "{}", stderr(&o));
    let o = run(&[
        "preprocess",
        "--allow-upscale",
        &data("photo_200x300.png"),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let want = image::open(data("photo_200x300.expected.png"))
        .unwrap()
        .to_rgb8()
        .into_raw();
    assert_eq!(std::fs::read(&out).unwrap(), want);
}

#[test]
fn predict_errors_continue_and_fail_at_the_end() {
    let d = scratch("errors");
    let wrong = d.join("short.rgb");
    std::fs::write(&wrong, vec![0u8; 1000]).unwrap();
    let good = data("photo_500x375.png");
    let args = [
        data("empty.jpg"),
        data("truncated.jpg"),
        good.clone(),
        d.join("missing.jpg").to_string_lossy().into_owned(),
        wrong.to_string_lossy().into_owned(),
        data("not_an_image.jpg"),
        data("bomb_60000x60000.png"),
    ];
    let mut cmd = bin();
    cmd.arg("predict").args(&args);
    let o = cmd.output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), expected_line(&good, 5) + "\n");
    let err = stderr(&o);
    for (name, what) in [
        ("empty.jpg", "empty"),
        ("truncated.jpg", "decode"),
        ("missing.jpg", "No such file"),
        ("short.rgb", "150528"),
        ("not_an_image.jpg", "decode"),
        ("bomb_60000x60000.png", "too large"),
    ] {
        let line = err
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no error for {name}: {err}"));
        assert!(line.contains(what), "{line}");
    }
}

#[test]
fn predict_directories_like_paddleclas() {
    let d = scratch("dir");
    std::fs::create_dir_all(d.join("sub/deeper")).unwrap();
    std::fs::copy(data("photo_500x375.png"), d.join("b.png")).unwrap();
    std::fs::copy(data("photo_320x240.jpg"), d.join("sub/a.JPG")).unwrap();
    std::fs::copy(data("photo_300x256.png"), d.join("sub/deeper/c.jpeg")).unwrap(); // content sniffed
    std::fs::write(d.join("notes.txt"), "not an image").unwrap();
    std::fs::copy(data("photo_320x240.jpg"), d.join("skipped.Jpg")).unwrap(); // not in PaddleClas's list
    std::fs::copy(data("photo_320x240.jpg"), d.join("skipped.gif")).unwrap();
    let o = run(&["predict", "--json", d.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let names: Vec<String> = stdout(&o)
        .lines()
        .map(|l| {
            let s = l.find("\"filename\": \"").unwrap() + 13;
            l[s..s + l[s..].find('"').unwrap()].to_owned()
        })
        .collect();
    let base = d.to_string_lossy();
    assert_eq!(
        names,
        vec![
            format!("{base}/b.png"),
            format!("{base}/sub/a.JPG"),
            format!("{base}/sub/deeper/c.jpeg")
        ]
    );
    // a directory without images is an error
    let empty = scratch("dir-empty");
    std::fs::write(empty.join("readme.md"), "x").unwrap();
    let o = run(&["predict", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no images"), "{}", stderr(&o));
}

#[test]
fn eval_accuracy_and_malformed_lines() {
    let d = scratch("eval");
    // Labels from the model's own predictions, so top-1 is 1.0 whatever the weights.
    let imgs = [
        "photo_500x375.png",
        "photo_1024x683.png",
        "photo_300x256.png",
    ];
    let mut list = String::new();
    for name in imgs {
        let line = expected_line(&data(name), 1);
        let id: usize = line
            .split("class id(s): [")
            .nth(1)
            .unwrap()
            .split(']')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        list.push_str(&format!("{name} {id}\n"));
    }
    std::fs::write(d.join("val.txt"), &list).unwrap();
    let root = Path::new(&data("x"))
        .parent()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let o = run(&[
        "eval",
        "--list",
        d.join("val.txt").to_str().unwrap(),
        "--root",
        &root,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("top1: 1.00000, top5: 1.00000, images: 3, failed: 0"),
        "{}",
        stdout(&o)
    );
    let o = run(&[
        "eval",
        "--json",
        "--limit",
        "2",
        "--list",
        d.join("val.txt").to_str().unwrap(),
        "--root",
        &root,
    ]);
    assert!(
        stdout(&o).starts_with("{\"top1\": 1.00000, \"top5\": 1.00000, \"images\": 2,"),
        "{}",
        stdout(&o)
    );

    list.push_str(
        "only_a_path.png\nphoto_500x375.png notanumber\nphoto_500x375.png 1000\n\nmissing.png 3\n",
    );
    std::fs::write(d.join("bad.txt"), &list).unwrap();
    let o = run(&[
        "eval",
        "--list",
        d.join("bad.txt").to_str().unwrap(),
        "--root",
        &root,
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    for n in [":4:", ":5:", ":6:"] {
        assert!(
            err.contains(n) && err.contains("malformed"),
            "line {n}: {err}"
        );
    }
    assert!(err.contains("missing.png"), "{err}");
    assert!(
        stdout(&o).contains("images: 3, failed: 1"),
        "{}",
        stdout(&o)
    );
    // a missing list file
    let o = run(&["eval", "--list", d.join("nope.txt").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nope.txt"));
}

#[test]
fn bench_and_info() {
    let o = run(&[
        "bench",
        "--iters",
        "3",
        "--warmup",
        "1",
        "--threads",
        "2",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    for key in [
        "\"latency_ms\"",
        "\"min\"",
        "\"median\"",
        "\"p90\"",
        "\"p99\"",
        "\"threads\": 2",
        "\"throughput_images_per_second\"",
    ] {
        assert!(s.contains(key), "{key}: {s}");
    }
    let o = run(&["bench", "--iters", "2", "--warmup", "0", "--threads", "1"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("median"));

    let o = run(&["info"]);
    assert!(o.status.success());
    let s = stdout(&o);
    for key in [
        "model:",
        "source:",
        "parameters:",
        "MACs per image:",
        "workspace bytes:",
        "output:",
        "seeded default:",
        "CPU features:",
        "layers (",
    ] {
        assert!(s.contains(key), "{key}: {s}");
    }
    let layers = s.lines().filter(|l| l.starts_with("  ")).count();
    assert_eq!(layers, pplcnet::MODEL.layers.len());
}

/// Runs `pplcnet args...` with a time bound: a hang (e.g. opening a FIFO with no writer) fails
/// the test instead of blocking it.
fn run_bounded(args: &[&str], limit: std::time::Duration) -> Output {
    use std::io::Read;
    let mut child = bin()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run pplcnet");
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
            child.stderr.take().unwrap().read_to_end(&mut err).unwrap();
            return Output {
                status,
                stdout: out,
                stderr: err,
            };
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pplcnet {args:?} still running after {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn devices_and_fifos_are_refused_not_read() {
    let limit = std::time::Duration::from_secs(20);
    // /dev/zero never ends: as an image, as raw input, as an eval list.
    for args in [
        &["predict", "/dev/zero"][..],
        &["preprocess", "/dev/zero", "-o", "/dev/null"],
        &["eval", "--list", "/dev/zero"],
    ] {
        let o = run_bounded(args, limit);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
    }
    // A FIFO with no writer: opening it would wait forever.
    let d = scratch("fifo");
    for name in ["in.rgb", "in.jpg"] {
        let fifo = d.join(name);
        let made = Command::new("mkfifo").arg(&fifo).status();
        if !made.map(|s| s.success()).unwrap_or(false) {
            use std::io::Write;
            writeln!(std::io::stderr(), "skipped: the FIFO case (mkfifo failed)").unwrap();
            return;
        }
        let o = run_bounded(&["predict", fifo.to_str().unwrap()], limit);
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
    }
}

#[test]
fn oversized_raw_input_is_refused() {
    let d = scratch("big-rgb");
    let big = d.join("big.rgb");
    std::fs::write(&big, vec![7u8; INPUT_LEN + 1]).unwrap();
    let o = run(&["predict", big.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&INPUT_LEN.to_string()),
        "{}",
        stderr(&o)
    );
    // exactly INPUT_LEN bytes is fine
    let ok = d.join("ok.rgb");
    std::fs::write(&ok, vec![7u8; INPUT_LEN]).unwrap();
    assert!(run(&["predict", ok.to_str().unwrap()]).status.success());
}

#[test]
fn jpeg_cut_inside_its_scan_is_an_error() {
    let full = std::fs::read(data("photo_320x240.jpg")).unwrap();
    let d = scratch("cut-jpeg");
    let whole = d.join("whole.jpg");
    std::fs::write(&whole, &full).unwrap();
    assert!(run(&["predict", whole.to_str().unwrap()]).status.success());
    // Cut at several points inside the entropy-coded data (past the headers): each must fail
    // with a message instead of classifying an image padded with grey.
    for frac in [0.5, 0.8, 0.99] {
        let cut = d.join(format!("cut{}.jpg", (frac * 100.0) as u32));
        std::fs::write(&cut, &full[..(full.len() as f64 * frac) as usize]).unwrap();
        let o = run(&["predict", cut.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "cut at {frac}");
        assert!(stdout(&o).is_empty());
        assert!(stderr(&o).contains("truncated"), "{}", stderr(&o));
    }
    // Bytes after the end-of-image marker do not make it truncated.
    let mut trailing = full.clone();
    trailing.extend_from_slice(b"trailing bytes some cameras append");
    let t = d.join("trailing.jpg");
    std::fs::write(&t, &trailing).unwrap();
    assert!(run(&["predict", t.to_str().unwrap()]).status.success());
}

#[test]
fn eval_list_without_entries_is_an_error() {
    let d = scratch("empty-list");
    let list = d.join("list.txt");
    std::fs::write(&list, "\n   \n\n").unwrap();
    let o = run(&["eval", "--list", list.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no entries"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
}

#[test]
fn topk_larger_than_the_class_count_is_an_error() {
    let img = data("photo_320x240.jpg");
    let too_many = (NUM_CLASSES + 1).to_string();
    let o = run(&["predict", "--topk", &too_many, &img]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!("{NUM_CLASSES} classes")),
        "{}",
        stderr(&o)
    );
    let all = NUM_CLASSES.to_string();
    let o = run(&["predict", "--topk", &all, &img]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), expected_line(&img, NUM_CLASSES) + "\n");
}
