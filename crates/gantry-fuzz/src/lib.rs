//! gantry's readers of untrusted bytes as fuzz targets.
//!
//! Each [`Target`] feeds arbitrary bytes to one reader the way gantry meets such a file: IDX
//! (raw and gzip), the CIFAR binary batches, the MNIST CSV, images (PNG 8/16-bit, JPEG through
//! libjpeg-turbo, WebP, BMP, TIFF, GIF, PNM), pix2pix `A|B` pairs, image archives (`.tar.gz`),
//! checkpoints (safetensors), `.npz` statistics and `.npy` features, run configs, `--set` lines,
//! dataset manifests, TensorBoard event records and `metrics.jsonl` as a resume purges it. A
//! reader may refuse its input (an error is the right answer to most of them); it must not panic,
//! abort, hang or allocate what the input only claims.
//!
//! `cargo xtask fuzz` drives them with libFuzzer (cargo-fuzz, `fuzz/` at the repository root,
//! one binary whose target is chosen by `GANTRY_FUZZ_TARGET`), starting from [`seeds`]: small
//! valid inputs made here, each accepted by its reader (tested). Inputs that crashed a reader
//! once are kept in `regressions/<target>/` and replayed by this crate's tests.

use std::io::Write;
use std::path::{Path, PathBuf};

/// One reader under fuzzing: its name and a function that reads the bytes, returning whether
/// the reader accepted them.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]) -> bool,
}

/// Every target.
pub const TARGETS: &[Target] = &[
    Target { name: "idx", run: idx },
    Target { name: "idx_gz", run: idx_gz },
    Target { name: "cifar", run: cifar },
    Target { name: "csv", run: csv },
    Target { name: "image", run: image },
    Target { name: "pairs", run: pairs },
    Target { name: "archive", run: archive },
    Target { name: "checkpoint", run: checkpoint },
    Target { name: "npz", run: npz },
    Target { name: "npy", run: npy },
    Target { name: "config", run: config },
    Target { name: "set", run: set },
    Target { name: "manifest", run: manifest },
    Target { name: "tensorboard", run: tensorboard },
    Target { name: "metrics", run: metrics },
];

/// What a fuzzing process sets once: one libtorch thread (inputs are small; fuzzing runs one
/// process per core).
pub fn init() {
    tch::set_num_threads(1);
}

/// The target named `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().copied().find(|t| t.name == name)
}

/// A scratch file of this process (for readers that take paths), holding `data`.
fn scratch(name: &str, data: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gantry-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).expect("scratch file");
    f.write_all(data).expect("scratch write");
    path
}

fn idx(data: &[u8]) -> bool {
    gantry_data::idx::parse(data, "fuzz").is_ok()
}

fn idx_gz(data: &[u8]) -> bool {
    gantry_data::idx::read(&scratch("in.idx.gz", data)).is_ok()
}

fn cifar(data: &[u8]) -> bool {
    gantry_data::cifar::parse_batch(data, "fuzz").is_ok()
}

fn csv(data: &[u8]) -> bool {
    std::str::from_utf8(data).is_ok_and(|t| gantry_data::csv::parse(t, 4, "fuzz").is_ok())
}

/// The format from the bytes' signature (PNG if none), as `gantry_data::decode::open` does for a
/// file without a known extension.
fn image(data: &[u8]) -> bool {
    let format = ::image::guess_format(data).unwrap_or(::image::ImageFormat::Png);
    gantry_data::decode::decode(data, format, "fuzz").is_ok()
}

fn pairs(data: &[u8]) -> bool {
    let opts = gantry_data::paired::PairedOptions {
        split: gantry_data::Split::Train,
        size: 8,
        channels: (3, 3),
        fit: gantry_data::Fit::Resize,
        a_to_b: true,
    };
    gantry_data::paired::load_dir(&scratch("pair.png", data), &opts).is_ok()
}

fn archive(data: &[u8]) -> bool {
    let target =
        gantry_data::folder::Target { size: Some(8), channels: Some(3), fit: gantry_data::Fit::Resize };
    gantry_data::folder::load(&scratch("images.tar.gz", data), gantry_data::Split::Train, target).is_ok()
}

fn checkpoint(data: &[u8]) -> bool {
    gantry_core::checkpoint::Checkpoint::from_bytes(data, Path::new("fuzz")).is_ok()
}

fn npz(data: &[u8]) -> bool {
    gantry_metrics::npy::read_stats_from(std::io::Cursor::new(data), Path::new("fuzz")).is_ok()
}

fn npy(data: &[u8]) -> bool {
    gantry_metrics::npy::read_features_from(data, Path::new("fuzz")).is_ok()
}

fn config(data: &[u8]) -> bool {
    std::str::from_utf8(data).is_ok_and(|t| {
        gantry_train::config::RunConfig::from_toml(t, "fuzz").is_ok_and(|c| c.validate().is_ok())
    })
}

/// `--set` lines (one per line) on the `dcgan-mnist` preset.
fn set(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else { return false };
    let sets: Vec<String> = text.lines().map(str::to_string).collect();
    let base = gantry_train::presets::find("dcgan-mnist").expect("preset").config();
    base.with_overrides(&sets).is_ok_and(|c| c.validate().is_ok())
}

fn manifest(data: &[u8]) -> bool {
    std::str::from_utf8(data).is_ok_and(|t| gantry_manifest::Manifest::parse(t, "fuzz").is_ok())
}

fn tensorboard(data: &[u8]) -> bool {
    gantry_train::tensorboard::read_records(data)
        .is_ok_and(|records| records.iter().all(|r| gantry_train::tensorboard::decode_event(r).is_ok()))
}

/// A run folder's `metrics.jsonl` as a resume purges it (keeping steps ≤ 5) and as reports and
/// `log.keep_best` read it.
fn metrics(data: &[u8]) -> bool {
    let dir = std::env::temp_dir().join(format!("gantry-fuzz-{}", std::process::id())).join("run");
    std::fs::create_dir_all(&dir).expect("scratch folder");
    std::fs::write(dir.join("metrics.jsonl"), data).expect("scratch write");
    let run = gantry_train::run_dir::RunDir::new(&dir);
    run.metric_values("d_loss").is_ok_and(|v| !v.is_empty()) && run.truncate_metrics(5).is_ok()
}

/// A gzip stream of `data`.
fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("in memory");
    e.finish().expect("in memory")
}

/// An IDX file of `dims` with bytes 0, 1, 2, ….
fn idx_bytes(dims: &[u32]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    let n: u32 = dims.iter().product();
    out.extend((0..n).map(|i| (i * 37 % 256) as u8));
    out
}

/// A small test picture `w`×`h` in `format`'s encoding.
fn picture(w: u32, h: u32, colour: ::image::ColorType, format: ::image::ImageFormat) -> Vec<u8> {
    use ::image::{DynamicImage, ImageBuffer};
    let rgb = ImageBuffer::from_fn(w, h, |x, y| {
        ::image::Rgb([(x * 40) as u8, (y * 50) as u8, ((x + y) * 20) as u8])
    });
    let img = DynamicImage::ImageRgb8(rgb);
    let img = match colour {
        ::image::ColorType::L8 => DynamicImage::ImageLuma8(img.to_luma8()),
        ::image::ColorType::Rgba8 => DynamicImage::ImageRgba8(img.to_rgba8()),
        ::image::ColorType::L16 => DynamicImage::ImageLuma16(img.to_luma16()),
        ::image::ColorType::Rgb16 => DynamicImage::ImageRgb16(img.to_rgb16()),
        _ => img,
    };
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encodable");
    out.into_inner()
}

/// A `.tar.gz` of `files` (name, bytes).
fn tar_gz(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, bytes) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, &bytes[..]).expect("in memory");
    }
    gz(&b.into_inner().expect("in memory"))
}

/// Small valid inputs of `target`, each accepted by its reader: where fuzzing starts.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    use ::image::{ColorType as C, ImageFormat as F};
    match target {
        "idx" => vec![idx_bytes(&[3, 4, 4]), idx_bytes(&[5])],
        "idx_gz" => vec![gz(&idx_bytes(&[3, 4, 4])), gz(&idx_bytes(&[5]))],
        "cifar" => {
            let px: Vec<u8> = (0..2 * 3072).map(|i| (i % 251) as u8).collect();
            vec![gantry_data::cifar::encode_batch(&px, &[3, 7])]
        }
        "csv" => {
            let row = |l: u32| {
                (0..16).map(|i| (i * 16).to_string()).chain([l.to_string()]).collect::<Vec<_>>().join(",")
            };
            vec![format!("{}\n{}\n", row(1), row(2)).into_bytes()]
        }
        "image" => vec![
            picture(8, 6, C::L8, F::Png),
            picture(8, 6, C::Rgba8, F::Png),
            picture(8, 6, C::L16, F::Png),
            picture(8, 6, C::Rgb16, F::Png),
            picture(8, 6, C::Rgb8, F::Jpeg),
            picture(8, 6, C::L8, F::Jpeg),
            picture(8, 6, C::Rgba8, F::WebP),
            picture(8, 6, C::Rgb8, F::Bmp),
            picture(8, 6, C::Rgb16, F::Tiff),
            picture(8, 6, C::Rgb8, F::Gif),
            picture(8, 6, C::Rgb8, F::Pnm),
        ],
        "pairs" => vec![picture(16, 8, C::Rgb8, F::Png), picture(16, 8, C::L8, F::Png)],
        "archive" => vec![tar_gz(&[
            ("a/0.png", picture(8, 8, C::Rgb8, F::Png)),
            ("b/1.jpg", picture(8, 8, C::Rgb8, F::Jpeg)),
        ])],
        "checkpoint" => {
            let mut ck = gantry_core::checkpoint::Checkpoint::new();
            ck.insert("g.weight", &tch::Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]).reshape([2, 2]));
            ck.insert_i64("meta.step", 7);
            ck.metadata.insert("gantry.config".into(), "steps = 1".into());
            vec![ck.to_bytes().expect("serialisable")]
        }
        "npz" => {
            let path = scratch("seed.npz", &[]);
            let mu = tch::Tensor::from_slice(&[0.5f64, -1.0]);
            let sigma = tch::Tensor::from_slice(&[2.0f64, 0.1, 0.1, 1.0]).reshape([2, 2]);
            gantry_metrics::npy::write_stats(&path, &mu, &sigma, Some(10)).expect("writable");
            vec![std::fs::read(&path).expect("written")]
        }
        "npy" => {
            let path = scratch("seed.npy", &[]);
            gantry_metrics::npy::write_array(
                &path,
                &tch::Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).reshape([2, 3]),
            )
            .expect("writable");
            vec![std::fs::read(&path).expect("written")]
        }
        "config" => [
            "dcgan-mnist",
            "stylegan2-mnist",
            "pix2pix-edges2fashion",
            "cyclegan-horse2zebra",
            "srgan-cifar",
            "aae-mnist",
            "vaegan-mnist",
            "progan-mnist",
        ]
        .iter()
        .map(|p| {
            gantry_train::presets::find(p).expect("preset").config().to_toml().expect("toml").into_bytes()
        })
        .collect(),
        "set" => vec![b"model.g_width=4\nbatch_size=8\nlog.every=5".to_vec(), b"seed=3".to_vec()],
        "manifest" => gantry_manifest::builtin_texts().iter().map(|(_, t)| t.as_bytes().to_vec()).collect(),
        "tensorboard" => {
            let dir = scratch("seed-dir", &[]);
            std::fs::remove_file(&dir).ok();
            std::fs::create_dir_all(&dir).expect("scratch folder");
            let mut w = gantry_train::tensorboard::EventWriter::create(&dir, Some(4)).expect("writable");
            let mut line = serde_json::Map::new();
            line.insert("d_loss".into(), 0.5.into());
            w.scalars(5, &line).expect("writable");
            let bytes = std::fs::read(w.path()).expect("written");
            std::fs::remove_dir_all(&dir).ok();
            vec![bytes]
        }
        "metrics" => vec![
            b"{\"step\":1,\"d_loss\":0.5}\n{\"step\":6,\"d_loss\":0.25,\"fid_mnist\":12.5}\n{\"step\":7,\"d_lo".to_vec(),
        ],
        _ => Vec::new(),
    }
}

/// The committed inputs that once crashed `target` (`regressions/<target>/*`).
pub fn regressions(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions").join(target);
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .map(|p| {
                    let bytes = std::fs::read(&p).expect("readable");
                    (p, bytes)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}
