//! Decompression and allocation bombs: files whose headers claim far more than they hold (a PNG
//! or JPEG of 60000×60000, an IDX.gz of 10^12 items, a tar member of a terabyte) are one error
//! line each, refused from the header — before anything of the claimed size is allocated (this
//! test binary would abort on a 10 GB allocation, and the peak resident set is checked).

use std::io::Write;

use gantry_data::{decode, idx};

/// The process's peak resident set grew by less than 200 MB while `f` ran (Linux; elsewhere
/// not checked). Tests in this file run one at a time for this (a single test function).
fn flat<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let base = gantry_core::mem::rss();
    let reset = gantry_core::mem::reset_peak();
    let out = f();
    if let (Some(base), true, Some(peak)) = (base, reset, gantry_core::mem::peak()) {
        assert!(peak < base + (200 << 20), "{what}: peak resident set {peak} from {base}");
    }
    out
}

fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    // A real 1×1 PNG whose IHDR is rewritten (and its CRC recomputed).
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image::RgbImage::new(1, 1))
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    let mut png = out.into_inner();
    // Signature (8), length (4), "IHDR" (4), then width, height.
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

/// CRC-32 (IEEE), as PNG chunks use it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(bytes);
    c.sum()
}

fn jpeg_claiming(w: u16, h: u16) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image::RgbImage::new(8, 8))
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .unwrap();
    let mut jpg = out.into_inner();
    // SOF0: FF C0, length (2), precision (1), height (2), width (2).
    let sof = jpg.windows(2).position(|m| m == [0xFF, 0xC0]).expect("baseline JPEG");
    jpg[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    jpg[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    jpg
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn bombs_are_one_line_from_their_headers_with_memory_flat() {
    // Images: 60000×60000 = 3.6·10⁹ pixels, over PIL's limit of 178956970.
    for (name, bytes, format) in [
        ("bomb.png", png_claiming(60000, 60000), image::ImageFormat::Png),
        ("bomb.jpg", jpeg_claiming(60000, 60000), image::ImageFormat::Jpeg),
    ] {
        let e = flat(name, || decode::decode(&bytes, format, name)).unwrap_err().to_string();
        assert!(e.starts_with(name) && e.contains("60000x60000") && e.contains("178956970"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
    // An IDX.gz whose header claims 10^12 bytes of payload.
    let tmp = tempfile::tempdir().unwrap();
    let mut header = vec![0u8, 0, 8, 3];
    for d in [1_000_000u32, 1000, 1000] {
        header.extend_from_slice(&d.to_be_bytes());
    }
    header.extend_from_slice(&[0; 64]);
    let path = tmp.path().join("bomb-idx3-ubyte.gz");
    std::fs::write(&path, gz(&header)).unwrap();
    let e = flat("idx.gz", || idx::read(&path)).unwrap_err().to_string();
    assert!(e.contains("[1000000, 1000, 1000]") && e.contains("decompression bomb"), "{e}");
    // A raw IDX making the same claim is a truncated payload (the file is what it holds).
    let raw = tmp.path().join("bomb-idx3-ubyte");
    std::fs::write(&raw, &header).unwrap();
    let e = flat("idx", || idx::read(&raw)).unwrap_err().to_string();
    assert!(e.contains("truncated IDX payload"), "{e}");
    // A tar.gz whose member claims a terabyte.
    let mut tar = Vec::new();
    {
        let mut h = tar::Header::new_gnu();
        h.set_path("a/huge.png").unwrap();
        h.set_size(1 << 40);
        h.set_mode(0o644);
        h.set_cksum();
        tar.extend_from_slice(h.as_bytes());
        tar.extend_from_slice(&[0u8; 1024]);
    }
    let archive = tmp.path().join("bomb.tar.gz");
    std::fs::write(&archive, gz(&tar)).unwrap();
    let target =
        gantry_data::folder::Target { size: Some(8), channels: Some(3), fit: gantry_data::Fit::Resize };
    let e = flat("tar.gz", || gantry_data::folder::load(&archive, gantry_data::Split::Train, target))
        .unwrap_err()
        .to_string();
    assert!(e.contains("huge.png") && e.contains("tar header claims"), "{e}");
    // A safetensors header claiming a terabyte of header, and one whose tensor claims a terabyte.
    let mut st = (1u64 << 40).to_le_bytes().to_vec();
    st.extend_from_slice(b"{}");
    let e = flat("safetensors", || {
        gantry_core::checkpoint::Checkpoint::from_bytes(&st, "bomb.safetensors".as_ref())
    })
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("bomb.safetensors: not a valid checkpoint"), "{e}");
    let json = br#"{"w":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,4000000000000]}}"#;
    let mut st = (json.len() as u64).to_le_bytes().to_vec();
    st.extend_from_slice(json);
    st.extend_from_slice(&[0; 16]);
    let e = flat("safetensors", || {
        gantry_core::checkpoint::Checkpoint::from_bytes(&st, "bomb.safetensors".as_ref())
    })
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("bomb.safetensors: not a valid checkpoint"), "{e}");
}
