//! `gantry dataset prepare`: a folder (or archive) of the images people actually have — PNG,
//! JPEG (CMYK and progressive too), WebP, BMP, TIFF; 8 or 16 bits; grey, RGB, RGBA; EXIF-rotated
//! photos; any size and aspect ratio — turned into a dataset `data=` reads: S×S PNGs, in class
//! folders when there are labels, with a manifest. As StyleGAN2-ADA's `dataset_tool.py` does, and:
//!
//! - EXIF orientation is applied (the photo as its camera meant it; Pillow's `Image.open`, and so
//!   their tool, ignores it);
//! - transparency is composited on a stated background (white unless asked otherwise);
//! - 16-bit samples are rounded to 8 bits (v/257), where Pillow clips grey ones at 255;
//! - resizing is Pillow's ([`crate::resample`], equal to it byte for byte): Lanczos by default
//!   (their tool's default), bicubic, box, bilinear or hamming on request;
//! - exact duplicates (the same pixels, whatever the file format) are dropped, images smaller
//!   than `min_size` are left out, and every file left out is reported with why;
//! - grey images stay grey (one-channel PNGs), so a grey folder loads as one channel;
//! - the output is written beside its final name and renamed when complete: a failed or empty
//!   preparation leaves nothing behind.
//!
//! The output holds `[<class>/]NNNNNN.png`, `gantry-dataset.json` ([`Manifest`]) and, when
//! labelled, StyleGAN2-ADA's `dataset.json` (`{"labels": [[file, class], …]}`), so their training
//! code reads the same folder.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use image::DynamicImage;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::dataset::{SkipReason, Skipped};
use crate::folder::{natural_key, Member, IMAGE_EXTENSIONS};
use crate::resample::{resize_u8, Filter};
use crate::{DataError, Result};

/// The manifest's file name, at the root of a prepared dataset.
pub const MANIFEST: &str = "gantry-dataset.json";

/// How an image of another aspect ratio becomes S×S.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Crop {
    /// The centred square of side min(W, H), resized to S×S (StyleGAN2-ADA's `center-crop`).
    #[default]
    Center,
    /// The whole image resized so its longer side is S, centred on an S×S canvas of the
    /// background colour (letterboxing).
    Pad,
    /// The whole image resized to S×S, aspect ratio not kept (their tool without `--transform`).
    None,
}

impl FromStr for Crop {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "center" => Ok(Crop::Center),
            "pad" => Ok(Crop::Pad),
            "none" => Ok(Crop::None),
            _ => Err(format!("unknown crop {s:?} (expected center, pad or none)")),
        }
    }
}

/// Where class labels come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Labels {
    /// `dataset.json` when the source has one, else class folders when every image is in one,
    /// else none.
    #[default]
    Auto,
    /// No labels: every image, wherever it is.
    None,
    /// The first folder of each image's path is its class; an image at the root is left out.
    Folders,
    /// StyleGAN2-ADA's `dataset.json` at the source's root (`{"labels": [[file, class], …]}`);
    /// an image it does not list is left out.
    #[serde(rename = "dataset.json")]
    DatasetJson,
}

impl FromStr for Labels {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(Labels::Auto),
            "none" => Ok(Labels::None),
            "folders" => Ok(Labels::Folders),
            "dataset.json" => Ok(Labels::DatasetJson),
            _ => Err(format!("unknown labels {s:?} (expected auto, none, folders or dataset.json)")),
        }
    }
}

/// What `prepare` makes of a source.
#[derive(Debug, Clone)]
pub struct Options {
    /// Side S of the S×S output images.
    pub size: u32,
    /// How other aspect ratios become square.
    pub crop: Crop,
    /// The resampling filter.
    pub filter: Filter,
    /// 1 or 3 to make every image grey or RGB; `None` keeps grey images grey and colour ones RGB.
    pub channels: Option<u8>,
    /// Where labels come from.
    pub labels: Labels,
    /// What transparency is composited on, and pad's canvas.
    pub background: [u8; 3],
    /// Images whose side that is kept (the shorter one, the longer one with [`Crop::Pad`]) is
    /// under this many pixels are left out; `None`: half of `size`.
    pub min_size: Option<u32>,
}

impl Options {
    /// Square images of side `size`, with the defaults: centre crop, Lanczos, channels as found,
    /// labels as found, white background, at least half of `size`.
    pub fn new(size: u32) -> Self {
        Options {
            size,
            crop: Crop::Center,
            filter: Filter::Lanczos,
            channels: None,
            labels: Labels::Auto,
            background: [255; 3],
            min_size: None,
        }
    }

    fn min_side(&self) -> u32 {
        self.min_size.unwrap_or(self.size / 2)
    }
}

/// Parses a background colour: `white`, `black`, `grey`, or `#rrggbb`.
pub fn parse_colour(s: &str) -> std::result::Result<[u8; 3], String> {
    match s {
        "white" => return Ok([255; 3]),
        "black" => return Ok([0; 3]),
        "grey" | "gray" => return Ok([128; 3]),
        _ => {}
    }
    let hex = s.strip_prefix('#').filter(|h| h.len() == 6 && h.chars().all(|c| c.is_ascii_hexdigit()));
    let hex = hex.ok_or_else(|| format!("unknown colour {s:?} (expected white, black, grey or #rrggbb)"))?;
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digits");
    Ok([byte(0), byte(2), byte(4)])
}

/// One image of a prepared dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its path in the dataset (`cat/000003.png`).
    pub file: String,
    /// The source file it was made from.
    pub source: String,
    /// Its class index (into [`Manifest::classes`]), when labelled.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub class: Option<usize>,
}

/// A file of the source that was left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedEntry {
    /// The file.
    pub file: String,
    /// Why, in words.
    pub why: String,
}

/// `gantry-dataset.json`: what a prepared dataset holds and how it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// "gantry dataset prepare" and gantry's version.
    pub tool: String,
    /// The source folder or archive.
    pub source: String,
    /// Images written.
    pub count: usize,
    /// Their side in pixels.
    pub size: u32,
    /// 1 when every image is grey, else 3 (grey images of a mixed set are one-channel PNGs,
    /// which `data=` repeats to RGB).
    pub channels: u8,
    /// The crop.
    pub crop: Crop,
    /// The resampling filter (Pillow's, by name).
    pub filter: String,
    /// The background, `#rrggbb`.
    pub background: String,
    /// The smallest kept side accepted.
    pub min_size: u32,
    /// Where the labels came from (`none` when unlabelled).
    pub labels: Labels,
    /// Class names, in label order (empty when unlabelled).
    pub classes: Vec<String>,
    /// Images per class, in the same order.
    pub class_counts: Vec<usize>,
    /// `sha256:` of every image file's path and the SHA-256 of its bytes, in order: two
    /// preparations with the same result have the same hash.
    pub tree_hash: String,
    /// Every image, in order.
    pub images: Vec<Entry>,
    /// Every file left out, with why.
    pub skipped: Vec<SkippedEntry>,
}

/// What [`prepare`] did.
#[derive(Debug)]
pub struct Prepared {
    /// Where the dataset is.
    pub out: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// The files left out.
    pub skipped: Vec<Skipped>,
}

/// Where the output goes while it is written: a hidden sibling folder, or a temporary archive.
enum Sink {
    Dir { tmp: PathBuf },
    Tar { tmp: PathBuf, tar: tar::Builder<Box<dyn Write>> },
}

impl Sink {
    fn create(out: &Path) -> Result<Sink> {
        let name =
            out.file_name().ok_or_else(|| DataError::Spec(format!("{}: not a file name", out.display())))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.tmp", std::process::id()));
        let tmp = out.with_file_name(tmp_name);
        if let Some(dir) = tmp.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
        }
        if crate::folder::is_archive(out) {
            let file = std::fs::File::create(&tmp).map_err(|e| DataError::io(&tmp, e))?;
            let w: Box<dyn Write> = if out.to_string_lossy().ends_with(".tar") {
                Box::new(std::io::BufWriter::new(file))
            } else {
                Box::new(flate2::write::GzEncoder::new(
                    std::io::BufWriter::new(file),
                    flate2::Compression::default(),
                ))
            };
            Ok(Sink::Tar { tmp, tar: tar::Builder::new(w) })
        } else {
            let _ = std::fs::remove_dir_all(&tmp);
            std::fs::create_dir(&tmp).map_err(|e| DataError::io(&tmp, e))?;
            Ok(Sink::Dir { tmp })
        }
    }

    fn add(&mut self, rel: &str, bytes: &[u8]) -> Result<()> {
        match self {
            Sink::Dir { tmp } => {
                let path = tmp.join(rel);
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
                }
                std::fs::write(&path, bytes).map_err(|e| DataError::io(&path, e))
            }
            Sink::Tar { tmp, tar } => {
                // Fixed metadata: the same images make the same archive.
                let mut header = tar::Header::new_gnu();
                header.set_size(bytes.len() as u64);
                header.set_mode(0o644);
                header.set_mtime(0);
                header.set_cksum();
                tar.append_data(&mut header, rel, bytes).map_err(|e| DataError::io(&*tmp, e))
            }
        }
    }

    /// Completes the output and moves it to `out`.
    fn finish(self, out: &Path) -> Result<()> {
        let tmp = match self {
            Sink::Dir { tmp } => tmp,
            Sink::Tar { tmp, tar } => {
                let done = (|| {
                    let mut w = tar.into_inner()?;
                    w.flush()
                })();
                done.map_err(|e| DataError::io(&tmp, e))?;
                tmp
            }
        };
        if out.is_dir() {
            // Only an empty folder is here (checked before starting): it is replaced.
            std::fs::remove_dir(out).map_err(|e| DataError::io(out, e))?;
        }
        std::fs::rename(&tmp, out).map_err(|e| DataError::io(out, e))
    }

    fn discard(self) {
        match self {
            Sink::Dir { tmp } => {
                let _ = std::fs::remove_dir_all(tmp);
            }
            Sink::Tar { tmp, tar } => {
                drop(tar);
                let _ = std::fs::remove_file(tmp);
            }
        }
    }
}

/// StyleGAN2-ADA's `dataset.json`: `{"labels": [[file, class], …]}` (or `null`).
#[derive(Deserialize, Serialize)]
struct DatasetJson {
    labels: Option<Vec<(String, i64)>>,
}

/// The labels of the images among `members`: (resolved source of labels, per-image label names).
fn labels_of(
    src: &Path,
    members: &[Member],
    images: &[usize],
    asked: Labels,
) -> Result<(Labels, HashMap<usize, String>)> {
    let json = members.iter().find(|m| m.rel == "dataset.json");
    let resolved = match asked {
        Labels::Auto if json.is_some() => Labels::DatasetJson,
        Labels::Auto if images.iter().all(|&i| members[i].rel.contains('/')) => Labels::Folders,
        Labels::Auto => Labels::None,
        l => l,
    };
    let mut out = HashMap::new();
    match resolved {
        Labels::None | Labels::Auto => {}
        Labels::Folders => {
            for &i in images {
                if let Some((class, _)) = members[i].rel.split_once('/') {
                    out.insert(i, class.to_string());
                }
            }
        }
        Labels::DatasetJson => {
            let m = json.ok_or_else(|| {
                DataError::Spec(format!(
                    "{}: --labels dataset.json, but there is no dataset.json at its root",
                    src.display()
                ))
            })?;
            let parsed: DatasetJson = serde_json::from_slice(&m.read()?).map_err(|e| {
                DataError::format(
                    &m.shown,
                    format!("not StyleGAN2-ADA's {{\"labels\": [[file, class], …]}} ({e})"),
                )
            })?;
            let table: HashMap<String, i64> = parsed.labels.unwrap_or_default().into_iter().collect();
            if let Some((f, l)) = table.iter().find(|(_, &l)| l < 0) {
                return Err(DataError::format(
                    &m.shown,
                    format!("label of {f} is {l}; labels are class indices ≥ 0"),
                ));
            }
            for &i in images {
                if let Some(l) = table.get(&members[i].rel) {
                    out.insert(i, l.to_string());
                }
            }
        }
    }
    Ok((resolved, out))
}

/// The image as 8-bit pixels with transparency composited on `bg`: (pixels, channels 1 or 3).
/// Grey (with or without alpha) stays one channel, composited on `bg`'s luma.
fn flatten(img: &DynamicImage, bg: [u8; 3]) -> (Vec<u8>, usize) {
    let grey = !img.color().has_color();
    let blend = |v: u8, a: u8, b: u8| ((v as u32 * a as u32 + b as u32 * (255 - a as u32) + 127) / 255) as u8;
    match (grey, img.color().has_alpha()) {
        (true, false) => (img.to_luma8().into_raw(), 1),
        (false, false) => (img.to_rgb8().into_raw(), 3),
        (true, true) => {
            let b = luma(bg);
            (img.to_luma_alpha8().pixels().map(|p| blend(p[0], p[1], b)).collect(), 1)
        }
        (false, true) => {
            let px = img.to_rgba8();
            (px.pixels().flat_map(|p| [0, 1, 2].map(|c| blend(p[c], p[3], bg[c]))).collect(), 3)
        }
    }
}

/// Pillow's RGB → L (ITU-R 601-2 luma, its fixed-point rounding).
fn luma([r, g, b]: [u8; 3]) -> u8 {
    ((r as u32 * 19595 + g as u32 * 38470 + b as u32 * 7471 + 0x8000) >> 16) as u8
}

/// Converts interleaved pixels from `c` to `to` channels (1 ↔ 3).
fn to_channels(px: Vec<u8>, c: usize, to: usize) -> Vec<u8> {
    match (c, to) {
        (a, b) if a == b => px,
        (1, 3) => px.iter().flat_map(|&v| [v; 3]).collect(),
        _ => px.chunks_exact(3).map(|p| luma([p[0], p[1], p[2]])).collect(),
    }
}

/// The S×S image (interleaved, `c` channels) of `px` (`w`×`h`) under `opts`.
fn fit(px: &[u8], c: usize, [w, h]: [usize; 2], opts: &Options) -> Vec<u8> {
    let s = opts.size as usize;
    match opts.crop {
        Crop::None => resize_u8(px, c, [w, h], [s, s], opts.filter),
        Crop::Center => {
            let m = w.min(h);
            let (top, left) = ((h - m) / 2, (w - m) / 2);
            let crop: Vec<u8> = (top..top + m)
                .flat_map(|y| px[(y * w + left) * c..(y * w + left + m) * c].iter().copied())
                .collect();
            resize_u8(&crop, c, [m, m], [s, s], opts.filter)
        }
        Crop::Pad => {
            let long = w.max(h);
            let scaled = |v: usize| ((v * s) as f64 / long as f64).round().max(1.0) as usize;
            let (nw, nh) = (scaled(w), scaled(h));
            let small = resize_u8(px, c, [w, h], [nw, nh], opts.filter);
            let fill = if c == 1 { vec![luma(opts.background)] } else { opts.background.to_vec() };
            let mut out: Vec<u8> = fill.iter().copied().cycle().take(s * s * c).collect();
            let (top, left) = ((s - nh) / 2, (s - nw) / 2);
            for y in 0..nh {
                let dst = ((top + y) * s + left) * c;
                out[dst..dst + nw * c].copy_from_slice(&small[y * nw * c..(y + 1) * nw * c]);
            }
            out
        }
    }
}

fn png(px: &[u8], c: usize, s: u32) -> Result<Vec<u8>> {
    use image::ImageEncoder;
    let mut buf = Vec::new();
    let colour = if c == 1 { image::ExtendedColorType::L8 } else { image::ExtendedColorType::Rgb8 };
    image::codecs::png::PngEncoder::new(&mut buf)
        .write_image(px, s, s, colour)
        .map_err(|e| DataError::Spec(format!("encoding a PNG: {e}")))?;
    Ok(buf)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Prepares the images of `src` (a folder, or a `.tar`/`.tar.gz` archive) as a dataset at `out`
/// (a folder, or an archive when it ends in `.tar`, `.tar.gz` or `.tgz`), calling `on_skip` for
/// each file left out as it is found. `out` must not exist, or be an empty folder. Nothing is
/// left at `out` unless every image was written.
pub fn prepare(
    src: &Path,
    out: &Path,
    opts: &Options,
    mut on_skip: impl FnMut(&Skipped),
) -> Result<Prepared> {
    if opts.size == 0 {
        return Err(DataError::Spec("--size must be at least 1".into()));
    }
    if let Some(c) = opts.channels.filter(|c| ![1, 3].contains(c)) {
        return Err(DataError::Spec(format!("channels must be 1 or 3, found {c}")));
    }
    let occupied = if out.is_dir() {
        std::fs::read_dir(out).map_err(|e| DataError::io(out, e))?.next().is_some()
    } else {
        out.exists()
    };
    if occupied {
        return Err(DataError::Spec(format!(
            "{}: already exists (give a new path, or an empty folder)",
            out.display()
        )));
    }
    let members = crate::folder::members(src)?;
    let mut images: Vec<usize> =
        (0..members.len()).filter(|&i| IMAGE_EXTENSIONS.contains(&members[i].ext().as_str())).collect();
    images.sort_by_cached_key(|&i| natural_key(&members[i].rel));
    let mut skipped = Vec::new();
    let mut skip = |s: Skipped, skipped: &mut Vec<Skipped>| {
        on_skip(&s);
        skipped.push(s);
    };
    for m in &members {
        if !IMAGE_EXTENSIONS.contains(&m.ext().as_str()) && m.rel != "dataset.json" {
            skip(Skipped { file: m.shown.clone(), why: SkipReason::NotAnImage }, &mut skipped);
        }
    }
    if images.is_empty() {
        return Err(DataError::Empty(format!(
            "{}: no image files ({}) among its {} files; nothing written",
            src.display(),
            IMAGE_EXTENSIONS.join(", "),
            members.len()
        )));
    }
    let (labels, label_of) = labels_of(src, &members, &images, opts.labels)?;
    let mut classes: Vec<String> = label_of.values().cloned().collect();
    classes.sort_by_cached_key(|c| natural_key(c));
    classes.dedup();
    // Class by class, so that the files' order (the order `data=` loads) is the manifest's.
    images.sort_by_key(|i| label_of.get(i).and_then(|name| classes.iter().position(|c| c == name)));

    let mut sink = Sink::create(out)?;
    let result = (|| -> Result<Manifest> {
        let mut seen: HashMap<[u8; 32], String> = HashMap::new();
        let mut entries = Vec::new();
        let mut tree = Sha256::new();
        let mut any_colour = false;
        for &i in &images {
            let m = &members[i];
            let class = match labels {
                Labels::None | Labels::Auto => None,
                _ => match label_of.get(&i) {
                    Some(name) => Some(classes.iter().position(|c| c == name).expect("a class")),
                    None => {
                        let why = match labels {
                            Labels::Folders => "at the root, not in a class folder".to_string(),
                            _ => "not listed in dataset.json".to_string(),
                        };
                        skip(
                            Skipped { file: m.shown.clone(), why: SkipReason::Unlabelled(why) },
                            &mut skipped,
                        );
                        continue;
                    }
                },
            };
            let bytes = m.read()?;
            let format = image::ImageFormat::from_extension(m.ext()).expect("an image extension");
            let mut img = match crate::decode::decode(&bytes, format, &m.shown) {
                Ok(img) => img,
                Err(DataError::Decode { message, .. }) => {
                    skip(
                        Skipped { file: m.shown.clone(), why: SkipReason::Undecodable(message) },
                        &mut skipped,
                    );
                    continue;
                }
                Err(e) => return Err(e),
            };
            img.apply_orientation(crate::decode::orientation(&bytes, format));
            let (px, c) = flatten(&img, opts.background);
            let (w, h) = (img.width() as usize, img.height() as usize);
            let digest: [u8; 32] = {
                let mut d = Sha256::new();
                d.update((w as u64).to_le_bytes());
                d.update((h as u64).to_le_bytes());
                d.update([c as u8]);
                d.update(&px);
                d.finalize().into()
            };
            if let Some(first) = seen.get(&digest) {
                skip(
                    Skipped { file: m.shown.clone(), why: SkipReason::Duplicate(first.clone()) },
                    &mut skipped,
                );
                continue;
            }
            seen.insert(digest, m.shown.clone());
            let kept = if opts.crop == Crop::Pad { w.max(h) } else { w.min(h) };
            if kept < opts.min_side() as usize {
                let side = if opts.crop == Crop::Pad { "longer" } else { "shorter" };
                let why = format!("{w}x{h}, its {side} side under --min-size {}", opts.min_side());
                skip(Skipped { file: m.shown.clone(), why: SkipReason::TooSmall(why) }, &mut skipped);
                continue;
            }
            let to = opts.channels.map(usize::from).unwrap_or(c);
            any_colour |= to == 3;
            let px = fit(&to_channels(px, c, to), to, [w, h], opts);
            let name = format!("{:06}.png", entries.len());
            let file = match class {
                Some(k) => format!("{}/{name}", classes[k]),
                None => name,
            };
            let encoded = png(&px, to, opts.size)?;
            sink.add(&file, &encoded)?;
            tree.update(file.as_bytes());
            tree.update([0]);
            tree.update(hex(&Sha256::digest(&encoded)).as_bytes());
            tree.update(b"\n");
            entries.push(Entry { file, source: m.shown.clone(), class });
        }
        if entries.is_empty() {
            return Err(DataError::Empty(format!(
                "{}: no usable image ({}); nothing written",
                src.display(),
                crate::dataset::skipped_summary(&skipped).unwrap_or_default()
            )));
        }
        // A class every image of which was left out is dropped (labels stay 0..K−1).
        let used: Vec<usize> =
            (0..classes.len()).filter(|&k| entries.iter().any(|e| e.class == Some(k))).collect();
        for e in &mut entries {
            e.class = e.class.map(|k| used.iter().position(|&u| u == k).expect("used"));
        }
        let classes: Vec<String> = used.iter().map(|&k| classes[k].clone()).collect();
        let labelled = labels != Labels::None && labels != Labels::Auto;
        if labelled {
            let labels =
                entries.iter().map(|e| (e.file.clone(), e.class.unwrap_or_default() as i64)).collect();
            let json =
                serde_json::to_vec_pretty(&DatasetJson { labels: Some(labels) }).expect("serialisable");
            sink.add("dataset.json", &json)?;
        }
        let manifest = Manifest {
            tool: format!("gantry dataset prepare {}", env!("CARGO_PKG_VERSION")),
            source: src.display().to_string(),
            count: entries.len(),
            size: opts.size,
            channels: if any_colour { 3 } else { 1 },
            crop: opts.crop,
            filter: opts.filter.name().to_string(),
            background: format!("#{}", hex(&opts.background)),
            min_size: opts.min_side(),
            labels: if labelled { labels } else { Labels::None },
            class_counts: (0..classes.len())
                .map(|k| entries.iter().filter(|e| e.class == Some(k)).count())
                .collect(),
            classes: if labelled { classes.clone() } else { Vec::new() },
            tree_hash: format!("sha256:{}", hex(&tree.finalize())),
            images: entries,
            skipped: skipped
                .iter()
                .map(|s| SkippedEntry { file: s.file.clone(), why: s.why.to_string() })
                .collect(),
        };
        sink.add(MANIFEST, &serde_json::to_vec_pretty(&manifest).expect("serialisable"))?;
        Ok(manifest)
    })();
    match result {
        Ok(manifest) => {
            sink.finish(out)?;
            Ok(Prepared { out: out.to_path_buf(), manifest, skipped })
        }
        Err(e) => {
            sink.discard();
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_and_refuse_by_name() {
        assert_eq!("pad".parse::<Crop>().unwrap(), Crop::Pad);
        assert!("square".parse::<Crop>().unwrap_err().contains("center, pad or none"));
        assert_eq!("dataset.json".parse::<Labels>().unwrap(), Labels::DatasetJson);
        assert_eq!(parse_colour("#ff8000").unwrap(), [255, 128, 0]);
        assert_eq!(parse_colour("black").unwrap(), [0; 3]);
        assert!(parse_colour("#ff80").unwrap_err().contains("#rrggbb"));
    }

    #[test]
    fn alpha_is_composited_on_the_background_and_grey_stays_grey() {
        let rgba = image::RgbaImage::from_raw(2, 1, vec![200, 100, 0, 255, 200, 100, 0, 0]).unwrap();
        let (px, c) = flatten(&DynamicImage::ImageRgba8(rgba), [10, 20, 30]);
        assert_eq!((px, c), (vec![200, 100, 0, 10, 20, 30], 3));
        let la = image::GrayAlphaImage::from_raw(2, 1, vec![200, 128, 50, 255]).unwrap();
        let (px, c) = flatten(&DynamicImage::ImageLumaA8(la), [255; 3]);
        // 200·128/255 + 255·127/255 = 100.39 + 127 → 227.
        assert_eq!((px, c), (vec![227, 50], 1));
        let l16 =
            image::ImageBuffer::<image::Luma<u16>, _>::from_raw(3, 1, vec![65535u16, 128 * 257, 0]).unwrap();
        assert_eq!(flatten(&DynamicImage::ImageLuma16(l16), [0; 3]), (vec![255, 128, 0], 1));
    }

    #[test]
    fn pad_letterboxes_on_the_background() {
        let opts = Options { crop: Crop::Pad, background: [9, 9, 9], ..Options::new(4) };
        // A 4x2 white image: 4x2 kept, rows 0 and 3 background.
        let out = fit(&[255u8; 4 * 2], 1, [4, 2], &opts);
        assert_eq!(out[..4], [9; 4]);
        assert_eq!(out[4..12], [255; 8]);
        assert_eq!(out[12..], [9; 4]);
    }
}
