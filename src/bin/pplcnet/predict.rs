//! `pplcnet predict` and `pplcnet preprocess`.

use super::*;

pub(super) fn predict(a: PredictArgs) -> io::Result<ExitCode> {
    if a.topk as usize > NUM_CLASSES {
        eprintln!(
            "pplcnet: --topk {} is larger than the model's {NUM_CLASSES} classes",
            a.topk
        );
        return Ok(ExitCode::FAILURE);
    }
    let cfg = a.resize.config();
    let mut failed = false;
    let mut items = Vec::new();
    let mut any_dir = false;
    for p in &a.paths {
        if p.is_dir() {
            any_dir = true;
            let mut found = Vec::new();
            let mut errors = Vec::new();
            walk_images(p, &mut found, &mut errors);
            for e in errors {
                eprintln!("pplcnet: {e}");
                failed = true;
            }
            if found.is_empty() {
                eprintln!(
                    "pplcnet: {}: no images found (looked for .jpg .jpeg .png .bmp .JPG .JPEG)",
                    p.display()
                );
                failed = true;
            }
            found.sort();
            items.extend(found);
        } else {
            items.push(p.clone());
        }
    }
    let k = a.topk as usize;
    let threads = a.batch_threads.unwrap_or_else(default_threads);
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let interactive = io::stdout().is_terminal();
    // Progress over directories (hidden when stderr is not a terminal).
    let bar = if any_dir {
        progress_bar(items.len(), "{bar:30} {pos}/{len}  {per_sec}")
    } else {
        indicatif::ProgressBar::hidden()
    };
    run_ordered(
        items.len(),
        threads,
        |i, ws, buf| -> Result<String, String> {
            let path = &items[i];
            load_input(path, &cfg, buf)?;
            let probs = pplcnet::classify_with(buf, ws);
            let top = if MODEL.output == pplcnet::OutputKind::MultiLabel {
                pplcnet::over_threshold(&probs, a.threshold.unwrap_or(pplcnet::THRESHOLD))
            } else {
                pplcnet::top_k_vec(&probs, k)
            };
            Ok(if a.json {
                let name = path.to_string_lossy();
                report::json_line(&name, &top, &LABELS[..], a.logits.then_some(&probs[..]))
            } else {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_else(|| path.to_string_lossy());
                report::predict_line(&name, &top, &LABELS[..])
            })
        },
        |i, r| {
            match r {
                Ok(line) => bar.suspend(|| -> io::Result<()> {
                    writeln!(out, "{line}")?;
                    if interactive {
                        out.flush()?;
                    }
                    Ok(())
                })?,
                Err(msg) => {
                    bar.suspend(|| -> io::Result<()> {
                        out.flush()?;
                        eprintln!("pplcnet: {}: {msg}", items[i].display());
                        Ok(())
                    })?;
                    failed = true;
                }
            }
            bar.inc(1);
            Ok(())
        },
    )?;
    bar.finish_and_clear();
    out.flush()?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub(super) fn preprocess_cmd(a: PreprocessArgs) -> io::Result<ExitCode> {
    let mut buf = Box::new([0u8; INPUT_LEN]);
    if let Err(msg) = load_input(&a.image, &a.resize.config(), &mut buf) {
        eprintln!("pplcnet: {}: {msg}", a.image.display());
        return Ok(ExitCode::FAILURE);
    }
    if a.output.as_os_str() == "-" {
        let mut out = io::stdout().lock();
        out.write_all(&buf[..])?;
        out.flush()?;
    } else if let Err(e) = std::fs::write(&a.output, &buf[..]) {
        eprintln!("pplcnet: {}: {e}", a.output.display());
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
