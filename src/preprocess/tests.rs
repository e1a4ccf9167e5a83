use super::*;

#[test]
fn resized_size_rounds_half_even() {
    assert_eq!(resized_size(101, 100, 50), (50, 50)); // 50.5 -> 50
    assert_eq!(resized_size(103, 100, 50), (52, 50)); // 51.5 -> 52
    assert_eq!(resized_size(500, 375, 256), (341, 256));
    assert_eq!(resized_size(1024, 683, 256), (384, 256));
    assert_eq!(resized_size(0, 5, 256), (0, 0));
}

#[test]
fn identity_and_constant() {
    let img = RgbImage::from_fn(7, 5, |x, y| image::Rgb([x as u8 * 30, y as u8 * 40, 200]));
    assert_eq!(resize_exact(&img, 7, 5), img);
    let c = RgbImage::from_pixel(13, 9, image::Rgb([17, 255, 0]));
    for (w, h) in [(5, 3), (40, 31), (13, 20), (1, 1)] {
        let r = resize_exact(&c, w, h);
        assert!(r.pixels().all(|p| p.0 == [17, 255, 0]), "{w}x{h}");
    }
}

#[test]
fn window_matches_full() {
    let img = RgbImage::from_fn(53, 41, |x, y| {
        image::Rgb([(x * 7 + y * 3) as u8, (x * y) as u8, (x ^ y) as u8])
    });
    let full = resize_exact(&img, 90, 70);
    let mut win = vec![0u8; 30 * 20 * 3];
    resize_window(&img, 90, 70, 11, 33, 30, 20, &mut win);
    let crop = image::imageops::crop_imm(&full, 11, 33, 30, 20).to_image();
    assert_eq!(win, crop.into_raw());
}

#[test]
fn errors_not_panics() {
    let img = RgbImage::new(10, 10);
    let cfg = PreprocessConfig::default();
    let mut out = vec![0u8; cfg.output_len()];
    assert!(matches!(
        preprocess_into(&img, &cfg, &mut out),
        Err(PreprocessError::TooSmall { .. })
    ));
    assert!(matches!(
        preprocess_into(&img, &cfg, &mut out[1..]),
        Err(PreprocessError::OutputSize { .. })
    ));
    let bad = PreprocessConfig {
        resize_short: 100,
        crop: 224,
        allow_upscale: true,
    };
    assert!(matches!(
        preprocess_into(&img, &bad, &mut out),
        Err(PreprocessError::InvalidConfig(_))
    ));
    let up = PreprocessConfig {
        allow_upscale: true,
        ..cfg
    };
    preprocess_into(&img, &up, &mut out).unwrap();
    assert!(matches!(
        center_crop(&img, 11),
        Err(PreprocessError::TooSmall { .. })
    ));
    assert!(matches!(decode_image(&[]), Err(PreprocessError::Empty)));
    assert!(matches!(
        decode_image(b"hello"),
        Err(PreprocessError::Decode(_))
    ));
    assert_eq!(
        resize_short_side(&RgbImage::new(0, 0), 256).dimensions(),
        (0, 0)
    );
}
