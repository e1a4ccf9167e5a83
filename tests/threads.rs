//! Many threads calling `classify` at once, on different inputs: 2 x cores threads x 1000 calls each
//! get bit-identical results to a single-threaded run (each thread has its own workspace; nothing is
//! shared but the weights), and no thread allocates after its first call (no growth under load).

mod common;

const ITERATIONS: usize = 1000;

#[path = "common/counting.rs"]
mod counting;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn concurrent_classify_is_bit_identical_and_allocation_free() {
    let threads = 2 * std::thread::available_parallelism().map_or(2, |n| n.get().min(8));
    let inputs = inputs();
    // Single-threaded reference, each input on a fresh workspace.
    let expected: Vec<Vec<u32>> = inputs
        .iter()
        .map(|x| {
            bits(&pplcnet::classify_with(
                x,
                &mut pplcnet::Workspace::new_boxed(),
            ))
        })
        .collect();
    // Distinct inputs give distinct outputs (so a mix-up between threads would show).
    for i in 1..expected.len() {
        assert_ne!(
            expected[i], expected[0],
            "inputs 0 and {i} give the same output"
        );
    }
    std::thread::scope(|s| {
        for t in 0..threads {
            let (inputs, expected) = (&inputs, &expected);
            s.spawn(move || {
                // The first call makes this thread's workspace; none after it may allocate.
                let _ = pplcnet::classify(&inputs[0]);
                let before = counting::on_this_thread();
                let mut mismatch = None;
                for k in 0..ITERATIONS {
                    // Every thread walks the inputs in its own order: at any moment threads run
                    // different ones.
                    let i = (t + k * (t + 1)) % inputs.len();
                    let got = pplcnet::classify(&inputs[i]);
                    let same = got.iter().zip(&expected[i]).all(|(g, e)| g.to_bits() == *e);
                    if !same && mismatch.is_none() {
                        mismatch = Some((k, i));
                    }
                }
                let after = counting::on_this_thread();
                assert_eq!(
                    mismatch, None,
                    "thread {t}: (iteration, input) differs from the single-threaded run"
                );
                assert_eq!(
                    after - before,
                    0,
                    "thread {t}: allocations during {ITERATIONS} calls"
                );
            });
        }
    });
}

fn inputs() -> Vec<Box<[u8; pplcnet::INPUT_LEN]>> {
    common::reference_inputs()
        .into_iter()
        .map(|(_, input)| input)
        .collect()
}
