//! gantry's JPEG decoding against PIL's (libjpeg-turbo), pixel for pixel, on the CIFAR-10 JPEG
//! mirror: the decoder behind FID on JPEG folders is the one the Python tools use.

use std::io::Read;
use std::path::PathBuf;

/// The first `n` JPEG members of the mirror's archive: (name, bytes).
fn jpegs(archive: &std::path::Path, n: usize) -> Vec<(String, Vec<u8>)> {
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(archive).unwrap());
    let mut tar = tar::Archive::new(gz);
    let mut out = Vec::new();
    for entry in tar.entries().unwrap() {
        let mut e = entry.unwrap();
        let name = e.path().unwrap().display().to_string();
        if name.ends_with(".jpg") {
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).unwrap();
            out.push((name, bytes));
            if out.len() == n {
                break;
            }
        }
    }
    out
}

const PIL_DECODE: &str = r#"
import sys, tarfile, io
from PIL import Image, features
assert features.check_feature("libjpeg_turbo"), "PIL without libjpeg-turbo"
archive, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with tarfile.open(archive) as tar, open(out, "wb") as f:
    k = 0
    for m in tar:
        if not m.name.endswith(".jpg"):
            continue
        im = Image.open(io.BytesIO(tar.extractfile(m).read()))
        assert im.mode == "RGB" and im.size == (32, 32), (m.name, im.mode, im.size)
        f.write(im.tobytes())
        k += 1
        if k == n:
            break
"#;

/// Tests named `mirror::python::…` need the data mirror and a Python with Pillow.
mod mirror {
    pub mod python {
        use super::super::*;

        #[test]
        #[ignore = "needs the local data mirror ($GANTRY_SHARED) and GANTRY_PYTHON with Pillow (cargo xtask test runs it)"]
        fn jpeg_pixels_equal_pils_on_the_cifar_jpeg_mirror() {
            const N: usize = 2000;
            let shared =
                PathBuf::from(std::env::var_os("GANTRY_SHARED").expect("GANTRY_SHARED: the data mirror"));
            let archive = shared.join("datasets/cifar10-jpg/cifar10-jpg.tar.gz");
            assert!(archive.is_file(), "needs {}", archive.display());
            let python = std::env::var("GANTRY_PYTHON").expect("GANTRY_PYTHON: a Python with Pillow");
            let tmp = tempfile::tempdir().unwrap();
            let (script, raw) = (tmp.path().join("pil.py"), tmp.path().join("pil.raw"));
            std::fs::write(&script, PIL_DECODE).unwrap();
            let out = std::process::Command::new(python)
                .arg(&script)
                .arg(&archive)
                .arg(N.to_string())
                .arg(&raw)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let pil = std::fs::read(&raw).unwrap();
            let files = jpegs(&archive, N);
            assert_eq!(pil.len(), files.len() * 3072);
            let (mut same, mut image_crate_same) = (0, 0);
            for ((name, bytes), want) in files.iter().zip(pil.chunks_exact(3072)) {
                let got = gantry_data::decode::decode(bytes, image::ImageFormat::Jpeg, name).unwrap();
                assert_eq!(got.as_rgb8().expect("RGB").as_raw().as_slice(), want, "{name}: gantry vs PIL");
                same += 1;
                // The image crate's own decoder (what gantry used before) differs on most of them.
                let other = image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg).unwrap();
                image_crate_same += usize::from(other.to_rgb8().as_raw().as_slice() == want);
            }
            eprintln!(
                "{same}/{N} JPEGs decode to PIL's pixels (the image crate's decoder: {image_crate_same}/{N})"
            );
            assert_eq!(same, N);
        }
    }
}
