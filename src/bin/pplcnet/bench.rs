//! `pplcnet bench`: latency and throughput of `classify`, per layer with `--layers`.

use super::*;

pub(super) fn bench_input() -> Box<[u8; INPUT_LEN]> {
    let mut buf = Box::new([0u8; INPUT_LEN]);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for b in buf.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = (x >> 56) as u8;
    }
    buf
}

/// Nearest-rank percentile of sorted samples.
pub(super) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median time of every layer over `iters` runs, printed with GFLOP/s (2 flops per MAC).
pub(super) fn bench_layers(
    input: &[u8; INPUT_LEN],
    ws: &mut Workspace,
    iters: u64,
    pool: Option<&pplcnet::Parallel>,
) {
    let n = MODEL.layers.len();
    let mut samples = vec![Vec::with_capacity(iters as usize); n];
    let mut stamps = vec![Instant::now(); n];
    for _ in 0..iters {
        let start = Instant::now();
        let hook = |i: usize| stamps[i] = Instant::now();
        std::hint::black_box(match pool {
            Some(pool) => pool.classify_with_hook(input, ws, hook),
            None => pplcnet::classify_with_hook(input, ws, hook),
        });
        let mut prev = start;
        for (i, &t) in stamps.iter().enumerate() {
            samples[i].push(t - prev);
            prev = t;
        }
    }
    let medians: Vec<Duration> = samples
        .iter_mut()
        .map(|s| {
            s.sort();
            percentile(s, 50.0)
        })
        .collect();
    let total: Duration = medians.iter().sum();
    println!(
        "per layer, median of {iters} runs (sum of medians {:.3} ms):",
        ms(total)
    );
    println!(
        "  {:>3}  {:>8}  {:>5}  {:>7}  layer",
        "#", "ms", "%", "GFLOP/s"
    );
    // The serial path runs banded chains as one unit (timed on their first layer): their layers
    // are listed together, under one time.
    let chain = |l: &LayerInfo| l.chain.filter(|_| pool.is_none());
    let chain_macs = |(a, b): (usize, usize)| MODEL.layers[a..=b].iter().map(|l| l.macs).sum();
    let gflops = |macs: u64, d: &Duration| {
        if macs > 0 {
            format!(
                "{:7.1}",
                2.0 * macs as f64 / d.as_secs_f64().max(1e-12) / 1e9
            )
        } else {
            format!("{:>7}", "-")
        }
    };
    for (i, (l, d)) in MODEL.layers.iter().zip(&medians).enumerate() {
        let pct = 100.0 * d.as_secs_f64() / total.as_secs_f64().max(1e-12);
        match chain(l) {
            Some((a, b)) if a == i => {
                let g = gflops(chain_macs((a, b)), d);
                println!("  {i:>3}  {:8.4}  {pct:5.1}  {g}  {l}", ms(*d));
            }
            Some((a, _)) => println!(
                "  {i:>3}  {:>8}  {:>5}  {:>7}  {l} (timed with #{a})",
                "", "", ""
            ),
            None => println!(
                "  {i:>3}  {:8.4}  {pct:5.1}  {}  {l}",
                ms(*d),
                gflops(l.macs, d)
            ),
        }
    }
    let mut by_kernel: BTreeMap<&str, (Duration, u64)> = BTreeMap::new();
    for (i, (l, d)) in MODEL.layers.iter().zip(&medians).enumerate() {
        let (key, macs) = match chain(l) {
            Some((a, b)) if a == i => ("banded chains", chain_macs((a, b))),
            Some(_) => continue,
            None => (l.kernel, l.macs),
        };
        let e = by_kernel.entry(key).or_default();
        e.0 += *d;
        e.1 += macs;
    }
    println!("per kernel:");
    for (k, (d, macs)) in by_kernel {
        let gflops = 2.0 * macs as f64 / d.as_secs_f64().max(1e-12) / 1e9;
        println!(
            "  {k:<16} {:8.3} ms  {:5.1}%  {gflops:7.1} GFLOP/s",
            ms(d),
            100.0 * d.as_secs_f64() / total.as_secs_f64().max(1e-12)
        );
    }
}

pub(super) fn bench(a: BenchArgs) -> io::Result<ExitCode> {
    let input = bench_input();
    let mut ws = Workspace::new_boxed();
    let pool = a.parallel.map(|n| pplcnet::Parallel::new(n as usize));
    let run = |ws: &mut Workspace| match &pool {
        Some(pool) => pool.classify(std::hint::black_box(&input), ws),
        None => pplcnet::classify_with(std::hint::black_box(&input), ws),
    };
    if a.layers {
        for _ in 0..a.warmup {
            std::hint::black_box(run(&mut ws));
        }
        bench_layers(&input, &mut ws, a.iters, pool.as_ref());
        return Ok(ExitCode::SUCCESS);
    }
    for _ in 0..a.warmup {
        std::hint::black_box(run(&mut ws));
    }
    let mut lat = Vec::with_capacity(a.iters as usize);
    for _ in 0..a.iters {
        let t = Instant::now();
        std::hint::black_box(run(&mut ws));
        lat.push(t.elapsed());
    }
    lat.sort();
    let mean = lat.iter().sum::<Duration>() / lat.len() as u32;
    let (min, med, p90, p99) = (
        lat[0],
        percentile(&lat, 50.0),
        percentile(&lat, 90.0),
        percentile(&lat, 99.0),
    );

    let threads = a.threads.unwrap_or_else(default_threads).max(1);
    let barrier = Barrier::new(threads + 1);
    let wall = std::thread::scope(|s| {
        for _ in 0..threads {
            let (barrier, input) = (&barrier, &input);
            s.spawn(move || {
                let mut ws = Workspace::new_boxed();
                for _ in 0..a.warmup.min(3) {
                    std::hint::black_box(pplcnet::classify_with(input, &mut ws));
                }
                barrier.wait();
                for _ in 0..a.iters {
                    std::hint::black_box(pplcnet::classify_with(
                        std::hint::black_box(input),
                        &mut ws,
                    ));
                }
            });
        }
        barrier.wait();
        let t = Instant::now();
        // the scope joins every worker before returning
        t
    })
    .elapsed();
    let runs = threads as u64 * a.iters;
    let ips = runs as f64 / wall.as_secs_f64().max(1e-12);
    let latency_threads = pool.as_ref().map_or(1, |p| p.threads());
    // What handing one layer to the pool and waiting for it costs (an empty layer, median).
    let handoff = pool.as_ref().map(|pool| {
        let mut t = Vec::with_capacity(10_000);
        for _ in 0..10_000 {
            let start = Instant::now();
            pool.empty_layer();
            t.push(start.elapsed());
        }
        t.sort();
        percentile(&t, 50.0)
    });
    let handoff_json = handoff.map_or(String::new(), |h| {
        format!(", \"handoff_us\": {:.3}", h.as_secs_f64() * 1e6)
    });
    if a.json {
        println!(
            "{{\"model\": {}, \"iters\": {}, \"warmup\": {}, \"latency_ms\": {{\"min\": {:.4}, \"median\": {:.4}, \"p90\": {:.4}, \"p99\": {:.4}, \"mean\": {:.4}}}, \"latency_threads\": {latency_threads}{handoff_json}, \"threads\": {threads}, \"throughput_images_per_second\": {ips:.2}}}",
            report::json_str(MODEL.name),
            a.iters,
            a.warmup,
            ms(min),
            ms(med),
            ms(p90),
            ms(p99),
            ms(mean)
        );
    } else {
        println!("model: {} ({} MMACs)", MODEL.name, MODEL.macs / 1_000_000);
        println!(
            "latency, {}, {} runs after {} warm-up: min {:.3} ms, median {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, mean {:.3} ms",
            match latency_threads {
                1 if pool.is_none() => "1 thread".to_string(),
                n => format!("{n} thread(s) (Parallel)"),
            },
            a.iters,
            a.warmup,
            ms(min),
            ms(med),
            ms(p90),
            ms(p99),
            ms(mean)
        );
        if let Some(h) = handoff {
            println!(
                "handoff per split layer (an empty layer, median of 10000): {:.2} us",
                h.as_secs_f64() * 1e6
            );
        }
        println!(
            "throughput, {threads} thread(s) x {} runs: {ips:.1} images/s ({:.3} s)",
            a.iters,
            wall.as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}
