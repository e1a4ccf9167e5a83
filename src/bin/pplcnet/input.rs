//! Shared by the subcommands: finding images, reading one input, running inputs on worker threads in order.

use super::*;

pub(super) fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The reason part of an error message (the caller names the file).
pub(super) fn reason(e: &PreprocessError) -> String {
    match e {
        PreprocessError::Io { source, .. } => source.to_string(),
        PreprocessError::TooSmall { width, height, crop } => format!(
            "the image is {width}x{height}, smaller than the {crop}x{crop} crop (--allow-upscale accepts it)"
        ),
        other => other.to_string(),
    }
}

/// PaddleClas `get_image_list`: the last `.`-separated part of the name, case-sensitive.
pub(super) fn has_image_ext(path: &Path) -> bool {
    const EXTS: [&str; 6] = ["jpg", "png", "jpeg", "JPEG", "JPG", "bmp"];
    match path.file_name().and_then(|n| n.to_str()) {
        Some(name) => EXTS.contains(&name.rsplit('.').next().unwrap_or(name)),
        None => false,
    }
}

pub(super) fn is_raw_rgb(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("rgb"))
}

/// Walks `dir` like `os.walk` (symlinked directories are not entered), collecting images.
pub(super) fn walk_images(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<String>) {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            errors.push(format!("{}: {e}", dir.display()));
            return;
        }
    };
    for entry in rd {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                errors.push(format!("{}: {e}", dir.display()));
                continue;
            }
        };
        let path = entry.path();
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if is_dir {
            walk_images(&path, out, errors);
        } else if has_image_ext(&path) {
            out.push(path);
        }
    }
}

/// Reads one input into `buf`: a raw `.rgb` file or an image to decode and preprocess.
pub(super) fn load_input(
    path: &Path,
    cfg: &Pipeline,
    buf: &mut [u8; INPUT_LEN],
) -> Result<(), String> {
    if is_raw_rgb(path) {
        // Bounded read: one byte past the expected size is enough to know it is wrong.
        let bytes =
            preprocess::read_file_limited(path, INPUT_LEN as u64).map_err(|e| match e {
                PreprocessError::TooLarge { .. } => format!(
                    ".rgb input must be exactly {INPUT_LEN} bytes ({INPUT_WIDTH}x{INPUT_HEIGHT}x3 RGB, HWC), this file has more"
                ),
                other => reason(&other),
            })?;
        if bytes.len() != INPUT_LEN {
            return Err(format!(
                ".rgb input must be exactly {INPUT_LEN} bytes ({INPUT_WIDTH}x{INPUT_HEIGHT}x3 RGB, HWC), this file has {}",
                bytes.len()
            ));
        }
        buf.copy_from_slice(&bytes);
        return Ok(());
    }
    let img = preprocess::load_image(path).map_err(|e| reason(&e))?;
    cfg.run_into(&img, &mut buf[..]).map_err(|e| reason(&e))
}

/// Runs `work(index, workspace, buffer)` for indices `0..n` on `threads` workers, handing each
/// result to `sink` in index order as soon as it and all earlier ones are ready.
pub(super) fn run_ordered<R: Send>(
    n: usize,
    threads: usize,
    work: impl Fn(usize, &mut Workspace, &mut [u8; INPUT_LEN]) -> R + Sync,
    mut sink: impl FnMut(usize, R) -> io::Result<()>,
) -> io::Result<()> {
    let threads = threads.clamp(1, n.max(1));
    if threads == 1 {
        let mut ws = Workspace::new_boxed();
        let mut buf = Box::new([0u8; INPUT_LEN]);
        for i in 0..n {
            let r = work(i, &mut ws, &mut buf);
            sink(i, r)?;
        }
        return Ok(());
    }
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::sync_channel::<(usize, R)>(threads * 4);
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, work) = (&next, &work);
            s.spawn(move || {
                let mut ws = Workspace::new_boxed();
                let mut buf = Box::new([0u8; INPUT_LEN]);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let r = work(i, &mut ws, &mut buf);
                    if tx.send((i, r)).is_err() {
                        break; // the consumer stopped (e.g. broken pipe)
                    }
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut want = 0;
        for (i, r) in rx {
            pending.insert(i, r);
            while let Some(r) = pending.remove(&want) {
                if let Err(e) = sink(want, r) {
                    next.store(n, Ordering::Relaxed); // stop the workers
                    return Err(e);
                }
                want += 1;
            }
        }
        Ok(())
    })
}

/// A progress bar on stderr for `total` items in `template` (indicatif), hidden when stderr is not
/// a terminal.
pub(super) fn progress_bar(total: usize, template: &str) -> indicatif::ProgressBar {
    if !io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}
