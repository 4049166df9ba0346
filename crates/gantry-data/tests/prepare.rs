//! `gantry dataset prepare`'s pieces against Pillow (fixtures made by
//! `tests/fixtures/prepare/make_fixtures.py`), and the whole tool on a messy folder.

use std::path::{Path, PathBuf};

use gantry_data::folder::{self, Target};
use gantry_data::prepare::{prepare, Crop, Labels, Options};
use gantry_data::resample::{resize_f32, resize_u8, Filter};
use gantry_data::{SkipReason, Split};
use image::DynamicImage;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/prepare")
}

fn png(path: &Path) -> DynamicImage {
    image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn resizing_equals_pillow_byte_for_byte() {
    let dir = fixtures().join("resample");
    let mut checked = 0;
    for (name, c) in [("grey", 1usize), ("rgb", 3)] {
        let src = png(&dir.join(format!("in_{name}.png")));
        let (w, h) = (src.width() as usize, src.height() as usize);
        let px = if c == 1 { src.to_luma8().into_raw() } else { src.to_rgb8().into_raw() };
        for f in Filter::ALL {
            for (ow, oh) in [(16, 16), (64, 48), (41, 10), (7, 29)] {
                let want = png(&dir.join(format!("{name}_{f}_{ow}x{oh}.png")));
                let want = if c == 1 { want.to_luma8().into_raw() } else { want.to_rgb8().into_raw() };
                let got = resize_u8(&px, c, [w, h], [ow, oh], f);
                let diff = got.iter().zip(&want).filter(|(a, b)| a != b).count();
                assert_eq!(
                    diff,
                    0,
                    "{name} {f} {ow}x{oh}: {diff} of {} bytes differ from Pillow",
                    want.len()
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 2 * 5 * 4);
}

#[test]
fn float_resizing_equals_pillows_mode_f_bit_for_bit() {
    // clean-fid resizes each channel of a u8 image as a mode "F" image (bicubic, to 299x299).
    let dir = fixtures().join("resample");
    let src = png(&dir.join("in_grey.png")).to_luma8();
    let (w, h) = (src.width() as usize, src.height() as usize);
    let px: Vec<f32> = src.into_raw().into_iter().map(f32::from).collect();
    let mut checked = 0;
    for f in [Filter::Bilinear, Filter::Bicubic, Filter::Lanczos] {
        for (ow, oh) in [(16, 16), (64, 48), (41, 10), (7, 29), (97, 83)] {
            let bytes = std::fs::read(dir.join(format!("float_{f}_{ow}x{oh}.f32"))).unwrap();
            let want: Vec<f32> =
                bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            let got = resize_f32(&px, 1, [w, h], [ow, oh], f);
            assert_eq!(got.len(), want.len());
            let differ = got.iter().zip(&want).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
            let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert_eq!(differ, 0, "{f} {ow}x{oh}: {differ} of {} values differ (max {worst})", want.len());
            checked += 1;
        }
    }
    assert_eq!(checked, 15);
    // Channels are resized independently: an RGB image is three grey ones.
    let rgb: Vec<f32> = px.iter().flat_map(|&v| [v, 255.0 - v, v * 0.5]).collect();
    let out = resize_f32(&rgb, 3, [w, h], [19, 31], Filter::Bicubic);
    let grey = resize_f32(&px, 1, [w, h], [19, 31], Filter::Bicubic);
    let inv: Vec<f32> = px.iter().map(|&v| 255.0 - v).collect();
    let inv = resize_f32(&inv, 1, [w, h], [19, 31], Filter::Bicubic);
    for (i, (g, n)) in grey.iter().zip(&inv).enumerate() {
        assert_eq!((out[i * 3], out[i * 3 + 1]), (*g, *n));
    }
}

/// Decodes a fixture file through gantry's decoder (libjpeg-turbo for JPEG), with its EXIF
/// orientation applied when `orient`.
fn decode(name: &str, orient: bool) -> image::RgbImage {
    let path = fixtures().join(name);
    let bytes = std::fs::read(&path).unwrap();
    let format = image::ImageFormat::from_path(&path).unwrap();
    let mut img = gantry_data::decode::decode(&bytes, format, name).unwrap();
    if orient {
        img.apply_orientation(gantry_data::decode::orientation(&bytes, format));
    }
    img.to_rgb8()
}

fn max_diff(a: &image::RgbImage, b: &image::RgbImage) -> u8 {
    assert_eq!(a.dimensions(), b.dimensions());
    a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| x.abs_diff(*y)).max().unwrap()
}

#[test]
fn cmyk_progressive_and_exif_rotated_jpegs_decode_as_pillow_sees_them() {
    let want = |f: &str| png(&fixtures().join(f)).to_rgb8();
    assert_eq!(max_diff(&decode("cmyk.jpg", false), &want("cmyk_rgb.png")), 0, "CMYK");
    assert_eq!(max_diff(&decode("progressive.jpg", false), &want("progressive_rgb.png")), 0, "progressive");
    // Orientation 6: stored 50x37, seen 37x50 (ImageOps.exif_transpose).
    let stored = decode("exif6.jpg", false);
    assert_eq!(stored.dimensions(), (50, 37));
    assert_eq!(max_diff(&decode("exif6.jpg", true), &want("exif6_viewed.png")), 0, "EXIF 6");
}

/// A folder as people have them: two class folders of mixed formats, sizes, modes and depths,
/// a CMYK and an EXIF-rotated JPEG, a corrupt file, a duplicate in another format, an image too
/// small, and files that are not images.
fn messy(root: &Path) -> usize {
    let a = root.join("cats");
    let b = root.join("dogs");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let rgb = |w: u32, h: u32, k: u32| {
        DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 5 + k) as u8, (y * 7) as u8, ((x + y) * k) as u8])
        }))
    };
    rgb(40, 30, 1).save(a.join("photo.png")).unwrap();
    rgb(33, 47, 2).save(a.join("tall.bmp")).unwrap();
    rgb(64, 20, 3).save(a.join("wide.webp")).unwrap();
    rgb(24, 24, 4).save(a.join("scan.tiff")).unwrap();
    let deep = image::ImageBuffer::<image::Rgb<u16>, _>::from_fn(30, 30, |x, y| {
        image::Rgb([(x * 2000) as u16, (y * 2000) as u16, 65535])
    });
    DynamicImage::ImageRgb16(deep).save(a.join("deep16.png")).unwrap();
    let rgba = image::RgbaImage::from_fn(20, 20, |x, _| image::Rgba([255, 0, 0, (x * 12) as u8]));
    DynamicImage::ImageRgba8(rgba).save(a.join("logo.png")).unwrap();
    for f in ["cmyk.jpg", "exif6.jpg", "progressive.jpg"] {
        std::fs::copy(fixtures().join(f), b.join(f)).unwrap();
    }
    let grey = image::GrayImage::from_fn(28, 28, |x, y| image::Luma([(x * y) as u8]));
    DynamicImage::ImageLuma8(grey).save(b.join("digit.png")).unwrap();
    rgb(40, 30, 1).save(b.join("copy-of-photo.bmp")).unwrap(); // same pixels as cats/photo.png
    rgb(5, 5, 9).save(b.join("icon.png")).unwrap(); // under --min-size
    std::fs::write(b.join("broken.jpg"), b"\xFF\xD8\xFF\xE0 not really a jpeg").unwrap();
    std::fs::write(b.join("notes.txt"), b"good dogs").unwrap();
    10 // images that should be kept: 6 cats, 4 dogs
}

#[test]
fn a_messy_folder_becomes_a_dataset_that_loads_with_its_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let kept = messy(&src);
    let out = tmp.path().join("out");
    let mut reported = Vec::new();
    let done = prepare(&src, &out, &Options::new(16), |s| reported.push(s.clone())).unwrap();
    let m = &done.manifest;
    assert_eq!(m.count, kept, "{:#?}", m.skipped);
    assert_eq!(m.labels, Labels::Folders);
    assert_eq!(m.classes, ["cats", "dogs"]);
    assert_eq!(m.class_counts, [6, 4]);
    assert_eq!(m.channels, 3);
    let kinds: Vec<&str> = done.skipped.iter().map(|s| s.why.kind()).collect();
    assert_eq!(reported, done.skipped);
    for kind in ["not an image", "undecodable", "duplicate", "too small"] {
        assert_eq!(kinds.iter().filter(|k| **k == kind).count(), 1, "{kind}: {kinds:?}");
    }
    let dup = done.skipped.iter().find(|s| matches!(s.why, SkipReason::Duplicate(_))).unwrap();
    assert!(dup.file.ends_with("copy-of-photo.bmp") && dup.why.to_string().contains("photo.png"), "{dup:?}");

    // What data= reads: every image, its class, nothing reported as skipped.
    let ds = folder::load(&out, Split::All, Target::default()).unwrap();
    assert_eq!(ds.images.size(), [kept as i64, 3, 16, 16]);
    assert_eq!(ds.classes, ["cats", "dogs"]);
    assert!(ds.skipped.is_empty(), "{:?}", ds.skipped);
    let labels: Vec<i64> = Vec::try_from(ds.labels.unwrap()).unwrap();
    assert_eq!(labels, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
    // StyleGAN2-ADA's dataset.json lists the same.
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("dataset.json")).unwrap()).unwrap();
    assert_eq!(json["labels"].as_array().unwrap().len(), kept);
    assert_eq!(json["labels"][6], serde_json::json!(["dogs/000006.png", 1]));
    // The transparent logo sits on white: its left column (alpha 0) is white.
    let logo = m.images.iter().find(|e| e.source.ends_with("logo.png")).unwrap();
    let logo = png(&out.join(&logo.file)).to_rgb8();
    let ([r0, g0, b0], [r1, g1, b1]) = (logo.get_pixel(0, 8).0, logo.get_pixel(15, 8).0);
    assert!(r0 == 255 && g0 > 240 && b0 > 240, "transparent edge: {:?}", [r0, g0, b0]);
    assert!(r1 == 255 && g1 < 40 && b1 < 40, "opaque edge: {:?}", [r1, g1, b1]);

    // The same source, prepared again and as an archive: the same images, the same tree hash.
    let again = prepare(&src, &tmp.path().join("again"), &Options::new(16), |_| {}).unwrap();
    assert_eq!(again.manifest.tree_hash, m.tree_hash);
    let tar = tmp.path().join("set.tar.gz");
    let packed = prepare(&src, &tar, &Options::new(16), |_| {}).unwrap();
    assert_eq!(packed.manifest.tree_hash, m.tree_hash);
    let from_tar = folder::load(&tar, Split::All, Target::default()).unwrap();
    assert!(from_tar.images.equal(&ds.images));
    // Another filter changes the images, and the hash says so.
    let bicubic = Options { filter: Filter::Bicubic, ..Options::new(16) };
    let other = prepare(&src, &tmp.path().join("bicubic"), &bicubic, |_| {}).unwrap();
    assert_ne!(other.manifest.tree_hash, m.tree_hash);
}

#[test]
fn center_crop_then_lanczos_is_stylegan2_adas_dataset_tool() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::copy(fixtures().join("pipeline_in.png"), src.join("x.png")).unwrap();
    let out = tmp.path().join("out");
    prepare(&src, &out, &Options::new(16), |_| {}).unwrap();
    let got = png(&out.join("000000.png")).to_rgb8();
    let want = png(&fixtures().join("pipeline_center_lanczos_16.png")).to_rgb8();
    assert_eq!(max_diff(&got, &want), 0);
}

#[test]
fn grey_folders_stay_grey_and_labels_come_from_dataset_json() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("00000")).unwrap();
    for i in 0..4u8 {
        let g = image::GrayImage::from_fn(20, 20, |x, y| image::Luma([x as u8 * 10 + y as u8 + i]));
        g.save(src.join(format!("00000/img{i:08}.png"))).unwrap();
    }
    let json = r#"{"labels": [["00000/img00000000.png", 2], ["00000/img00000001.png", 0],
                              ["00000/img00000002.png", 2]]}"#;
    std::fs::write(src.join("dataset.json"), json).unwrap();
    let out = tmp.path().join("out");
    let done = prepare(&src, &out, &Options { crop: Crop::Pad, ..Options::new(8) }, |_| {}).unwrap();
    let m = &done.manifest;
    assert_eq!((m.count, m.channels, m.labels), (3, 1, Labels::DatasetJson));
    assert_eq!(
        (m.classes.clone(), m.class_counts.clone()),
        (vec!["0".to_string(), "2".to_string()], vec![1, 2])
    );
    assert!(
        matches!(&done.skipped[..], [s] if matches!(s.why, SkipReason::Unlabelled(_))),
        "{:?}",
        done.skipped
    );
    let ds = folder::load(&out, Split::All, Target::default()).unwrap();
    assert_eq!(ds.images.size(), [3, 1, 8, 8]);
    assert_eq!(Vec::<i64>::try_from(ds.labels.unwrap()).unwrap(), [0, 1, 1]);
    let files: Vec<&str> = m.images.iter().map(|e| e.file.as_str()).collect();
    assert_eq!(files, ["0/000000.png", "2/000001.png", "2/000002.png"]);
}

#[test]
fn nothing_usable_is_one_line_and_no_output() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("a.png"), b"not a png").unwrap();
    std::fs::write(src.join("b.jpg"), b"").unwrap();
    let out = tmp.path().join("out");
    let e = prepare(&src, &out, &Options::new(16), |_| {}).unwrap_err().to_string();
    assert!(e.contains("no usable image") && e.contains("2 undecodable") && !e.contains('\n'), "{e}");
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, ["src"], "no temporary output left");

    // An output that exists is refused before anything is read.
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), b"mine").unwrap();
    let e = prepare(&src, &out, &Options::new(16), |_| {}).unwrap_err().to_string();
    assert!(e.contains("already exists"), "{e}");
    assert_eq!(std::fs::read(out.join("keep.txt")).unwrap(), b"mine");
    let e = prepare(&tmp.path().join("absent"), &tmp.path().join("o2"), &Options::new(16), |_| {});
    assert!(e.unwrap_err().to_string().contains("no such folder"));
}
