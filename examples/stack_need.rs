//! Measures the thread stack one `classify_with` call needs (besides its workspace), for README:
//! runs a call on a thread of a given stack size in a child process (an overflow aborts the child)
//! and bisects to 4 KiB. `cargo run --release --example stack_need [-- parallel]`
//! (with `parallel`: the calling thread of a 2-thread `Parallel::classify`).

use std::process::Command;

fn call_on_stack(bytes: usize, parallel: bool) {
    let img = [0u8; pplcnet::INPUT_LEN];
    let mut ws = pplcnet::Workspace::new_boxed();
    let pool = parallel.then(|| pplcnet::Parallel::new(2));
    let t = std::thread::Builder::new()
        .stack_size(bytes)
        .spawn(move || match pool {
            Some(p) => p.classify(&img, &mut ws)[0],
            None => pplcnet::classify_with(&img, &mut ws)[0],
        })
        .expect("spawn");
    std::hint::black_box(t.join().expect("join"));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let parallel = args.iter().any(|a| a == "parallel");
    if let Some(bytes) = args.iter().find_map(|a| a.strip_prefix("--child=")) {
        call_on_stack(bytes.parse().expect("a size"), parallel);
        return;
    }
    let me = std::env::current_exe().expect("own path");
    let fits = |bytes: usize| {
        let mut c = Command::new(&me);
        c.arg(format!("--child={bytes}"));
        if parallel {
            c.arg("parallel");
        }
        c.output().expect("child").status.success()
    };
    let (mut lo, mut hi) = (16 * 1024, 16 * 1024 * 1024);
    assert!(fits(hi), "16 MiB of stack is not enough");
    while hi - lo > 4096 {
        let mid = (lo + hi) / 2 / 4096 * 4096;
        if fits(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    println!(
        "{} ({:?}, {}): a call needs at most {} KiB of stack",
        pplcnet::MODEL.name,
        pplcnet::MODEL.precision,
        if parallel {
            "parallel, 2 threads"
        } else {
            "serial"
        },
        hi / 1024
    );
}
