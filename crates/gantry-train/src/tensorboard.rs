//! TensorBoard event files: `events.out.tfevents.<seconds>.<host>.<pid>` in the run folder, one
//! per start of a run, appended as the loop logs.
//!
//! The format is TensorFlow's: a sequence of TFRecords (`u64` length, masked CRC32C of the length,
//! the bytes, masked CRC32C of the bytes; all little-endian), each an `Event` protobuf. The
//! messages below are the fields of tensorflow/core/util/event.proto and summary.proto that gantry
//! writes, with their field numbers; any TensorBoard reads them, and Weights & Biases imports
//! them (`wandb sync --sync-tensorboard RUN`, or `wandb.init(sync_tensorboard=True)`).
//!
//! - the first event carries `file_version = "brain.Event:2"`;
//! - a resumed run starts with `SessionLog { status: START }` at the step it resumes from + 1, so
//!   TensorBoard drops what an earlier process logged past the checkpoint (its "purge orphaned
//!   data"), as TensorFlow's own writers do after a restart;
//! - each `metrics.jsonl` number is a scalar (`simple_value`) under its key;
//! - each sample grid is an image summary (`samples`, the PNG's bytes).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Context, Result};
use prost::Message;

/// `tensorflow.Event`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// When it was written, in seconds since the Unix epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// The training step it belongs to.
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// What it carries.
    #[prost(oneof = "What", tags = "3, 5, 7")]
    pub what: Option<What>,
}

/// `Event.what`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum What {
    /// `file_version`: the event format, `brain.Event:2` in a file's first event.
    #[prost(string, tag = "3")]
    FileVersion(String),
    /// `summary`: scalars or images at the event's step.
    #[prost(message, tag = "5")]
    Summary(Summary),
    /// `session_log`: a session's start (a resumed run's first event after the version).
    #[prost(message, tag = "7")]
    SessionLog(SessionLog),
}

/// `tensorflow.Summary`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    /// The tagged values.
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<Value>,
}

/// `tensorflow.Summary.Value` (the `simple_value` and `image` cases).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Value {
    /// The name TensorBoard shows it under (a `metrics.jsonl` key, or `samples`).
    #[prost(string, tag = "1")]
    pub tag: String,
    /// The value itself.
    #[prost(oneof = "Kind", tags = "2, 4")]
    pub kind: Option<Kind>,
}

/// `Summary.Value.value`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Kind {
    /// `simple_value`: a scalar.
    #[prost(float, tag = "2")]
    SimpleValue(f32),
    /// `image`: an encoded image.
    #[prost(message, tag = "4")]
    Image(Image),
}

/// `tensorflow.Summary.Image`: an encoded PNG and its size.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Image {
    /// Height in pixels.
    #[prost(int32, tag = "1")]
    pub height: i32,
    /// Width in pixels.
    #[prost(int32, tag = "2")]
    pub width: i32,
    /// 1 grey, 3 RGB, 4 RGBA.
    #[prost(int32, tag = "3")]
    pub colorspace: i32,
    /// The PNG file's bytes.
    #[prost(bytes = "vec", tag = "4")]
    pub encoded_image_string: Vec<u8>,
}

/// `tensorflow.SessionLog`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SessionLog {
    /// 1 = START.
    #[prost(int32, tag = "1")]
    pub status: i32,
    /// The checkpoint the session started from (gantry leaves it empty).
    #[prost(string, tag = "2")]
    pub checkpoint_path: String,
    /// A free-form message (gantry leaves it empty).
    #[prost(string, tag = "3")]
    pub msg: String,
}

/// TFRecord's masked CRC32C.
pub fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// One TFRecord around `data`.
pub fn record(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
    out
}

/// The records of an event file, checked (length and data CRCs); a torn last record (a process
/// killed mid-write) ends the list, as TensorFlow's reader does.
pub fn read_records(bytes: &[u8]) -> Result<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut at = 0;
    while bytes.len() - at >= 12 {
        let len_bytes = &bytes[at..at + 8];
        let len = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes")) as usize;
        let len_crc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().expect("4 bytes"));
        crate::error::ensure!(masked_crc(len_bytes) == len_crc, "record at byte {at}: bad length checksum");
        let (start, end) = (at + 12, at + 12 + len);
        if end + 4 > bytes.len() {
            break;
        }
        let data = &bytes[start..end];
        let crc = u32::from_le_bytes(bytes[end..end + 4].try_into().expect("4 bytes"));
        crate::error::ensure!(masked_crc(data) == crc, "record at byte {at}: bad data checksum");
        out.push(data);
        at = end + 4;
    }
    Ok(out)
}

/// Decodes one record's `Event` protobuf.
pub fn decode_event(bytes: &[u8]) -> Result<Event> {
    Event::decode(bytes).context("not a tensorflow.Event protobuf")
}

/// Appends events to one event file.
#[derive(Debug)]
pub struct EventWriter {
    path: PathBuf,
    file: std::fs::File,
}

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl EventWriter {
    /// Creates a new event file in `dir` and writes its version record; `resumed_at` (the
    /// checkpoint's step) adds the `SessionLog START` that purges later steps of earlier files.
    pub fn create(dir: &Path, resumed_at: Option<u64>) -> Result<Self> {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
            .unwrap_or_else(|| "localhost".into());
        let secs = now() as u64;
        let path = dir.join(format!("events.out.tfevents.{secs}.{host}.{}", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        let mut w = Self { path, file };
        w.write(0, What::FileVersion("brain.Event:2".into()))?;
        if let Some(step) = resumed_at {
            w.write(
                step as i64 + 1,
                What::SessionLog(SessionLog {
                    status: 1,
                    checkpoint_path: String::new(),
                    msg: String::new(),
                }),
            )?;
        }
        Ok(w)
    }

    /// The event file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&mut self, step: i64, what: What) -> Result<()> {
        let event = Event { wall_time: now(), step, what: Some(what) };
        self.file
            .write_all(&record(&event.encode_to_vec()))
            .and_then(|()| self.file.flush())
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// Every number of a `metrics.jsonl` line (except `step`) as a scalar at `step`.
    pub fn scalars(&mut self, step: u64, line: &serde_json::Map<String, serde_json::Value>) -> Result<()> {
        let value: Vec<Value> = line
            .iter()
            .filter(|(k, _)| k.as_str() != "step")
            .filter_map(|(k, v)| {
                Some(Value { tag: k.clone(), kind: Some(Kind::SimpleValue(v.as_f64()? as f32)) })
            })
            .collect();
        if value.is_empty() {
            return Ok(());
        }
        self.write(step as i64, What::Summary(Summary { value }))
    }

    /// A PNG file as the image summary `tag` at `step` (its size and colour read from its header).
    pub fn png(&mut self, step: u64, tag: &str, png_path: &Path) -> Result<()> {
        let bytes = std::fs::read(png_path).with_context(|| format!("cannot read {}", png_path.display()))?;
        let (width, height, colorspace) = png_header(&bytes)
            .with_context(|| format!("{}: not a PNG file gantry wrote", png_path.display()))?;
        let image = Image { height, width, colorspace, encoded_image_string: bytes };
        let value = vec![Value { tag: tag.into(), kind: Some(Kind::Image(image)) }];
        self.write(step as i64, What::Summary(Summary { value }))
    }
}

/// Width, height and TensorBoard colorspace (channels) from a PNG's IHDR chunk.
fn png_header(bytes: &[u8]) -> Option<(i32, i32, i32)> {
    if bytes.len() < 26 || &bytes[..8] != b"\x89PNG\r\n\x1a\n" || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let w = i32::from_be_bytes(bytes[16..20].try_into().ok()?);
    let h = i32::from_be_bytes(bytes[20..24].try_into().ok()?);
    let channels = match bytes[25] {
        0 => 1, // grey
        2 => 3, // RGB
        4 => 2, // grey + alpha
        6 => 4, // RGBA
        _ => return None,
    };
    Some((w, h, channels))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TFRecord's masked CRC32C against tensorboard 2.21.0's own
    /// (`tensorboard.compat.tensorflow_stub.pywrap_tensorflow.masked_crc32c`), and the CRC32C
    /// check value crc32c("123456789") = 0xE3069283.
    #[test]
    fn masked_crc_matches_tensorboard() {
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(masked_crc(b"123456789"), 0xc78a_b0e5);
        assert_eq!(masked_crc(&0u64.to_le_bytes()), 0x0798_0329);
        assert_eq!(masked_crc(b""), 0xa282_ead8);
    }

    #[test]
    fn records_round_trip_and_a_torn_tail_is_dropped() {
        let events: Vec<Vec<u8>> = (0..3)
            .map(|i| {
                Event {
                    wall_time: 1.5,
                    step: i,
                    what: Some(What::Summary(Summary {
                        value: vec![Value {
                            tag: "d_loss".into(),
                            kind: Some(Kind::SimpleValue(0.25 * i as f32)),
                        }],
                    })),
                }
                .encode_to_vec()
            })
            .collect();
        let mut file: Vec<u8> = events.iter().flat_map(|e| record(e)).collect();
        let back = read_records(&file).unwrap();
        assert_eq!(back, events.iter().map(Vec::as_slice).collect::<Vec<_>>());
        let e = Event::decode(back[2]).unwrap();
        assert_eq!(e.step, 2);
        file.truncate(file.len() - 3);
        assert_eq!(read_records(&file).unwrap().len(), 2);
        file[20] ^= 1; // corrupt the first record's data
        assert!(read_records(&file).unwrap_err().to_string().contains("bad data checksum"));
    }

    #[test]
    fn png_headers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.png");
        let img = tch::Tensor::zeros([3, 5, 7], (tch::Kind::Uint8, tch::Device::Cpu));
        gantry_core::image::save_png(&img, &p).unwrap();
        assert_eq!(png_header(&std::fs::read(&p).unwrap()), Some((7, 5, 3)));
        assert_eq!(png_header(b"GIF89a"), None);
    }
}
