//! Many threads calling `classify` at once, on different inputs, get bit-identical results to a
//! single-threaded run (each thread has its own workspace; nothing is shared but the weights).

mod common;

const THREADS: usize = 6;
const ITERATIONS: usize = 15;

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn concurrent_classify_is_bit_identical() {
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
        for t in 0..THREADS {
            let (inputs, expected) = (&inputs, &expected);
            s.spawn(move || {
                for k in 0..ITERATIONS {
                    // Every thread walks the inputs in its own order: at any moment threads run different ones.
                    let i = (t + k * (t + 1)) % inputs.len();
                    let got = bits(&pplcnet::classify(&inputs[i]));
                    assert!(got == expected[i], "thread {t}, iteration {k}, input {i}: differs from the single-threaded run");
                }
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
