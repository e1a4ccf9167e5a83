//! Output formats that PaddleClas users and scripts know: the `predict_cls.py` result line and
//! JSON Lines, with Python's formatting rules (string `repr`, `np.around(x, 5)`, `"{:.2f}"`).
//!
//! `deploy/python/predict_cls.py` prints, for each image,
//!
//! ```text
//! {basename}:\tclass id(s): [332, 153, 229, 204, 265], score(s): [0.28, 0.25, 0.03, 0.02, 0.02], label_name(s): ['Angora, Angora rabbit', ...]
//! ```
//!
//! where the scores went through `np.around(float64(score), 5)` in `Topk` and then
//! `"{:.2f}".format(...)`, the class ids are a Python list and the names are the Python `repr` of a
//! list of `str` (single quotes, or double quotes for names containing `'`).

use std::fmt::Write as _;

/// `np.around(x, 5)` on the `float64` of an `f32` model output, as PaddleClas's `Topk` does:
/// `rint(x * 1e5) / 1e5` in `f64` (ties to even).
pub fn round5(x: f32) -> f64 {
    let x = x as f64;
    (x * 1e5).round_ties_even() / 1e5
}

/// Python's `"{:.2f}".format(x)`: the exact binary value rounded half to even at 2 decimals,
/// `nan`, `inf`, `-inf` spelled like Python.
pub fn format_2f(x: f64) -> String {
    if x.is_nan() {
        "nan".to_owned()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        // Rust's fixed-precision formatting is exact (correctly rounded, ties to even), like
        // CPython's dtoa-based float formatting.
        format!("{x:.2}")
    }
}

fn is_python_printable(c: char) -> bool {
    // CPython's str.isprintable: false for categories Cc, Cf, Cs, Co, Cn, Zl, Zp and Zs other than
    // ' '. This covers Cc, Zs/Zl/Zp, the common Cf characters and private use; unassigned code
    // points (Cn) are treated as printable (no Unicode tables here).
    let u = c as u32;
    !(c.is_control()
        || matches!(u, 0xA0 | 0x1680 | 0x2000..=0x200F | 0x2028..=0x202F | 0x205F..=0x2064 | 0x2066..=0x206F | 0x3000)
        || matches!(u, 0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0xFEFF | 0xFFF9..=0xFFFB)
        || matches!(u, 0xE000..=0xF8FF | 0xF0000..=0x10FFFF)
        || matches!(u, 0xE0001 | 0xE0020..=0xE007F))
}

/// Python's `repr()` of a `str`: single quotes unless the text contains `'` and no `"`,
/// backslash escapes for the quote, `\`, `\t`, `\n`, `\r`, and `\xNN`/`\uNNNN`/`\UNNNNNNNN` for
/// characters that are not printable.
pub fn python_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7F => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x7F || is_python_printable(c) => out.push(c),
            c if (c as u32) <= 0xFF => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push(quote);
    out
}

/// Python's `repr()` of a `list` of `str`: `['a', "b's"]`.
pub fn python_str_list_repr<S: AsRef<str>>(items: &[S]) -> String {
    let mut out = String::from("[");
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&python_str_repr(s.as_ref()));
    }
    out.push(']');
    out
}

fn label<'a>(labels: &[&'a str], id: usize) -> &'a str {
    labels.get(id).copied().unwrap_or("")
}

/// The `predict_cls.py` line for one image, without the trailing newline:
/// `NAME:\tclass id(s): [..], score(s): [..], label_name(s): [..]`.
///
/// `filename` is printed as given (PaddleClas prints the basename); `top` is the top-k
/// `(class id, model output)` pairs in order; `labels` is indexed by class id.
pub fn predict_line(filename: &str, top: &[(usize, f32)], labels: &[&str]) -> String {
    let ids: Vec<String> = top.iter().map(|(i, _)| i.to_string()).collect();
    let scores: Vec<String> = top.iter().map(|&(_, s)| format_2f(round5(s))).collect();
    let names: Vec<&str> = top.iter().map(|&(i, _)| label(labels, i)).collect();
    format!(
        "{filename}:\tclass id(s): [{}], score(s): [{}], label_name(s): {}",
        ids.join(", "),
        scores.join(", "),
        python_str_list_repr(&names)
    )
}

/// A JSON string literal (RFC 8259), escaping `"`, `\` and control characters.
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON number for an `f32`: the shortest decimal that reads back as the same `f32`, in
/// exponent form when tiny or huge like Python's repr (`1.5e-7`), and `null` for NaN and
/// infinities, which JSON cannot express.
pub fn json_f32(x: f32) -> String {
    if !x.is_finite() {
        "null".to_owned()
    } else if x != 0.0 && (x.abs() < 1e-4 || x.abs() >= 1e16) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// One JSON Lines record (no trailing newline):
/// `{"filename": .., "class_ids": [..], "scores": [..], "label_names": [..]}` plus
/// `"logits": [..]` (every model output, in class order) when `logits` is given.
/// Scores are the model outputs at full `f32` precision (not rounded like PaddleClas's dict).
pub fn json_line(
    filename: &str,
    top: &[(usize, f32)],
    labels: &[&str],
    logits: Option<&[f32]>,
) -> String {
    let mut out = String::with_capacity(128 + logits.map_or(0, |l| l.len() * 12));
    out.push_str("{\"filename\": ");
    out.push_str(&json_str(filename));
    out.push_str(", \"class_ids\": [");
    for (i, (id, _)) in top.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{id}");
    }
    out.push_str("], \"scores\": [");
    for (i, &(_, s)) in top.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&json_f32(s));
    }
    out.push_str("], \"label_names\": [");
    for (i, &(id, _)) in top.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&json_str(label(labels, id)));
    }
    out.push(']');
    if let Some(l) = logits {
        out.push_str(", \"logits\": [");
        for (i, &v) in l.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&json_f32(v));
        }
        out.push(']');
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_decimals_like_python() {
        // "{:.2f}".format(x) in CPython
        for (x, want) in [
            (0.125, "0.12"),
            (0.375, "0.38"),
            (0.285, "0.28"), // 0.28499999999999998...
            (0.005, "0.01"), // 0.005000000000000000104...
            (0.015, "0.01"), // 0.01499999999999999944...
            (0.025, "0.03"), // 0.025000000000000001387...
            (1.0, "1.00"),
            (0.0, "0.00"),
            (-0.0, "-0.00"),
            (0.999, "1.00"),
            (0.995, "0.99"), // 0.99499999999999999556
            (1e-7, "0.00"),
        ] {
            assert_eq!(format_2f(x), want, "{x}");
        }
        assert_eq!(format_2f(f64::NAN), "nan");
        assert_eq!(format_2f(f64::INFINITY), "inf");
    }

    #[test]
    fn around5_like_numpy() {
        // np.around(float(np.float32(v)), 5)
        assert_eq!(round5(0.885_9f32), 0.8859);
        assert_eq!(round5(0.071_564f32), 0.07156);
        assert_eq!(round5(0.000_005f32), 0.0); // f32(5e-6) = 4.99999987e-06
        assert_eq!(round5(0.000_015f32), 1e-05); // f32 = 1.49999996e-05
        assert_eq!(round5(1.0), 1.0);
        // double rounding: 0.285004 -> around 0.285 -> "0.28" (a single rounding would say 0.29)
        assert_eq!(format_2f(round5(0.284_996f32)), "0.28");
        assert_eq!(format_2f(round5(0.285_004f32)), "0.28");
        assert_eq!(format_2f(round5(0.285_006f32)), "0.29");
    }

    #[test]
    fn repr_like_python() {
        assert_eq!(python_str_repr("hen"), "'hen'");
        assert_eq!(python_str_repr("jack-o'-lantern"), "\"jack-o'-lantern\"");
        assert_eq!(python_str_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(python_str_repr("say \"hi\""), "'say \"hi\"'");
        assert_eq!(
            python_str_repr("back\\slash\ttab\nnl"),
            "'back\\\\slash\\ttab\\nnl'"
        );
        assert_eq!(
            python_str_repr("\u{7}\u{7f}\u{a0}é\u{200b}😀"),
            "'\\x07\\x7f\\xa0é\\u200b😀'"
        );
        assert_eq!(
            python_str_list_repr(&["Angora, Angora rabbit", "potter's wheel"]),
            "['Angora, Angora rabbit', \"potter's wheel\"]"
        );
        assert_eq!(python_str_list_repr::<&str>(&[]), "[]");
    }

    #[test]
    fn predict_line_like_predict_cls() {
        let mut labels = vec!["x"; 1000];
        labels[332] = "Angora, Angora rabbit";
        labels[153] = "Maltese dog, Maltese terrier, Maltese";
        labels[607] = "jack-o'-lantern";
        let top = [(332usize, 0.2849996f32), (153, 0.2500004), (607, 0.0312)];
        assert_eq!(
            predict_line("ILSVRC2012_val_00000010.jpeg", &top, &labels),
            "ILSVRC2012_val_00000010.jpeg:\tclass id(s): [332, 153, 607], score(s): [0.28, 0.25, 0.03], \
             label_name(s): ['Angora, Angora rabbit', 'Maltese dog, Maltese terrier, Maltese', \"jack-o'-lantern\"]"
        );
    }

    #[test]
    fn json_lines() {
        let labels = ["a\"b", "c"];
        let l = json_line(
            "d\\x\n.jpg",
            &[(1, 0.5), (0, 0.25)],
            &labels,
            Some(&[0.25, 0.5, f32::NAN]),
        );
        assert_eq!(
            l,
            "{\"filename\": \"d\\\\x\\n.jpg\", \"class_ids\": [1, 0], \"scores\": [0.5, 0.25], \
             \"label_names\": [\"c\", \"a\\\"b\"], \"logits\": [0.25, 0.5, null]}"
        );
        assert_eq!(json_f32(0.1), "0.1");
        assert_eq!(json_f32(1e-10), "1e-10");
        assert_eq!(json_f32(1.5e-7), "1.5e-7");
        assert_eq!(json_f32(0.0001), "0.0001");
        assert_eq!(json_f32(-0.0), "-0");
        assert_eq!(json_f32(3e38), "3e38");
    }
}
