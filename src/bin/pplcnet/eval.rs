//! `pplcnet eval`: top-1 / top-5 accuracy on a PaddleClas list.

use super::*;

/// The largest list file `eval` reads (ImageNet's 50,000-line validation list is about 2 MB).
const MAX_LIST_BYTES: u64 = 256 << 20;

pub(super) fn eval(a: EvalArgs) -> io::Result<ExitCode> {
    let bytes = match preprocess::read_file_limited(&a.list, MAX_LIST_BYTES) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("pplcnet: {}: {}", a.list.display(), reason(&e));
            return Ok(ExitCode::FAILURE);
        }
    };
    let Ok(text) = String::from_utf8(bytes) else {
        eprintln!("pplcnet: {}: the list is not UTF-8 text", a.list.display());
        return Ok(ExitCode::FAILURE);
    };
    let mut failed = false;
    let mut entries: Vec<(PathBuf, usize)> = Vec::new();
    for (no, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split_whitespace();
        let (Some(path), Some(label)) = (parts.next(), parts.next()) else {
            eprintln!(
                "pplcnet: {}:{}: malformed line (expected `path label`): {line}",
                a.list.display(),
                no + 1
            );
            failed = true;
            continue;
        };
        match label.parse::<usize>() {
            Ok(l) if l < NUM_CLASSES => entries.push((a.root.join(path), l)),
            _ => {
                eprintln!(
                    "pplcnet: {}:{}: malformed line (label must be an integer in 0..{NUM_CLASSES}): {line}",
                    a.list.display(),
                    no + 1
                );
                failed = true;
            }
        }
    }
    if let Some(limit) = a.limit {
        entries.truncate(limit);
    }
    if entries.is_empty() {
        eprintln!(
            "pplcnet: {}: no entries to evaluate (expected `relative/path label` lines)",
            a.list.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    let cfg = a.resize.config();
    let threads = a.batch_threads.unwrap_or_else(default_threads);
    let total = entries.len();
    let (mut done, mut top1, mut top5, mut errors) = (0usize, 0usize, 0usize, 0usize);
    let bar = progress_bar(total, "{bar:30} {pos}/{len}  {msg}  {per_sec}");
    let start = Instant::now();
    run_ordered(
        total,
        threads,
        |i, ws, buf| -> Result<(bool, bool), String> {
            let (path, label) = &entries[i];
            load_input(path, &cfg, buf)?;
            let probs = pplcnet::classify_with(buf, ws);
            let top = pplcnet::top_k::<5>(&probs);
            Ok((top[0].0 == *label, top.iter().any(|t| t.0 == *label)))
        },
        |i, r| {
            match r {
                Ok((t1, t5)) => {
                    done += 1;
                    top1 += t1 as usize;
                    top5 += t5 as usize;
                }
                Err(msg) => {
                    errors += 1;
                    bar.suspend(|| eprintln!("pplcnet: {}: {msg}", entries[i].0.display()));
                }
            }
            bar.set_message(format!(
                "top1 {:.4}  top5 {:.4}",
                top1 as f64 / done.max(1) as f64,
                top5 as f64 / done.max(1) as f64
            ));
            bar.inc(1);
            Ok(())
        },
    )?;
    bar.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    let acc = |c: usize| {
        if done == 0 {
            0.0
        } else {
            c as f64 / done as f64
        }
    };
    let ips = (done + errors) as f64 / secs.max(1e-9);
    if a.json {
        println!(
            "{{\"top1\": {:.5}, \"top5\": {:.5}, \"images\": {done}, \"failed\": {errors}, \"seconds\": {secs:.3}, \"images_per_second\": {ips:.2}}}",
            acc(top1),
            acc(top5)
        );
    } else {
        println!(
            "top1: {:.5}, top5: {:.5}, images: {done}, failed: {errors}, {ips:.1} images/s",
            acc(top1),
            acc(top5)
        );
    }
    Ok(if failed || errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
