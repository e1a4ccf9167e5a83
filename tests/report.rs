//! The predict line's score formatting against CPython + numpy (tests/data/report/scores.txt,
//! made by tools/make_report_reference.py).

use pplcnet::report::{format_2f, predict_line, round5};

#[test]
fn scores_format_like_paddleclas() {
    let text = include_str!("data/report/scores.txt");
    let mut n = 0;
    for line in text.lines() {
        let mut it = line.split(' ');
        let (bits, around, two) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        let x = f32::from_bits(u32::from_str_radix(bits, 16).unwrap());
        let r = round5(x);
        assert_eq!(r, around.parse::<f64>().unwrap(), "np.around({x}, 5)");
        assert_eq!(format_2f(r), two, "{{:.2f}} of {r}");
        n += 1;
    }
    assert!(n > 4000, "{n}");
}

#[test]
fn predict_line_is_byte_exact() {
    // The shape of the documented example line (scores chosen to hit the double rounding).
    let mut labels = vec!["?"; 1000];
    labels[332] = "Angora, Angora rabbit";
    labels[153] = "Maltese dog, Maltese terrier, Maltese";
    labels[229] = "Old English sheepdog, bobtail";
    labels[204] = "Lhasa, Lhasa apso";
    labels[265] = "toy poodle";
    let top = [
        (332, 0.2849996f32),
        (153, 0.25),
        (229, 0.03),
        (204, 0.0249999),
        (265, 0.015),
    ];
    assert_eq!(
        predict_line("ILSVRC2012_val_00000010.jpeg", &top, &labels),
        "ILSVRC2012_val_00000010.jpeg:\tclass id(s): [332, 153, 229, 204, 265], score(s): [0.28, 0.25, 0.03, 0.03, 0.01], \
         label_name(s): ['Angora, Angora rabbit', 'Maltese dog, Maltese terrier, Maltese', 'Old English sheepdog, bobtail', \
         'Lhasa, Lhasa apso', 'toy poodle']"
    );
}
