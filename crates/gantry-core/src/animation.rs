//! Animations of image frames: GIF (palette per frame, looping; what every browser and chat shows),
//! APNG (lossless, 8-bit grey or RGB, looping) and MP4 (H.264 through an `ffmpeg` on PATH, as
//! StyleGAN's `gen_video.py` writes; sides padded to even), written atomically.

use std::path::Path;
use std::str::FromStr;

use tch::{Kind, Tensor};

use crate::fs::write_atomic;
use crate::{CoreError, Result};

/// How an animation is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnimationFormat {
    /// GIF (256 colours a frame, written by the `gif` crate).
    Gif,
    /// Animated PNG (lossless).
    Apng,
    /// H.264 in MP4 (yuv420p, CRF 18), encoded by the `ffmpeg` on PATH.
    Mp4,
}

impl FromStr for AnimationFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "gif" => Ok(Self::Gif),
            "apng" => Ok(Self::Apng),
            "mp4" => Ok(Self::Mp4),
            other => Err(format!("expected gif, apng or mp4, found '{other}'")),
        }
    }
}

/// Checks that `frames` are u8 `[C, H, W]` (C = 1 or 3), all of one size; returns (C, H, W).
fn frame_shape(frames: &[Tensor]) -> Result<(usize, u32, u32)> {
    let first =
        frames.first().ok_or_else(|| CoreError::Image("an animation needs frames, found none".into()))?;
    let size = first.size();
    for (i, f) in frames.iter().enumerate() {
        if f.size() != size || f.kind() != Kind::Uint8 || size.len() != 3 || !(size[0] == 1 || size[0] == 3) {
            return Err(CoreError::Image(format!(
                "animation frame {i}: expected u8 [1|3, H, W] like frame 0 ({size:?}), found {:?} {:?}",
                f.kind(),
                f.size()
            )));
        }
    }
    Ok((size[0] as usize, size[1] as u32, size[2] as u32))
}

/// The bytes of one frame, row-major, channels interleaved.
fn interleaved(frame: &Tensor) -> Result<Vec<u8>> {
    let hwc = frame.permute([1, 2, 0]).contiguous().to_device(tch::Device::Cpu);
    Ok(Vec::<u8>::try_from(hwc.flatten(0, -1))?)
}

/// Encodes u8 frames `[C, H, W]` as a looping animation at `fps` frames per second.
pub fn encode_animation(frames: &[Tensor], fps: u32, format: AnimationFormat) -> Result<Vec<u8>> {
    let (c, h, w) = frame_shape(frames)?;
    let fps = fps.clamp(1, 100);
    let mut out = Vec::new();
    match format {
        AnimationFormat::Gif => {
            use image::codecs::gif::{GifEncoder, Repeat};
            let err = |e: image::ImageError| CoreError::Image(format!("GIF: {e}"));
            let mut enc = GifEncoder::new_with_speed(&mut out, 1); // best palette quality
            enc.set_repeat(Repeat::Infinite).map_err(err)?;
            for f in frames {
                let px = interleaved(f)?;
                let rgba: Vec<u8> = px
                    .chunks_exact(c)
                    .flat_map(|p| if c == 1 { [p[0], p[0], p[0], 255] } else { [p[0], p[1], p[2], 255] })
                    .collect();
                let img = image::RgbaImage::from_raw(w, h, rgba).expect("w·h·4 bytes");
                let delay = image::Delay::from_numer_denom_ms(1000, fps);
                enc.encode_frame(image::Frame::from_parts(img, 0, 0, delay)).map_err(err)?;
            }
        }
        AnimationFormat::Apng => {
            let err = |e: png::EncodingError| CoreError::Image(format!("APNG: {e}"));
            let mut enc = png::Encoder::new(&mut out, w, h);
            enc.set_color(if c == 1 { png::ColorType::Grayscale } else { png::ColorType::Rgb });
            enc.set_depth(png::BitDepth::Eight);
            enc.set_animated(frames.len() as u32, 0).map_err(err)?; // 0 plays: forever
            enc.set_frame_delay(1, fps as u16).map_err(err)?;
            let mut writer = enc.write_header().map_err(err)?;
            for f in frames {
                writer.write_image_data(&interleaved(f)?).map_err(err)?;
            }
            writer.finish().map_err(err)?;
        }
        AnimationFormat::Mp4 => out = encode_mp4(frames, fps, (c, h, w))?,
    }
    Ok(out)
}

/// The program that encodes MP4: `$GANTRY_FFMPEG`, else `ffmpeg` on PATH.
fn ffmpeg() -> std::ffi::OsString {
    std::env::var_os("GANTRY_FFMPEG").unwrap_or_else(|| "ffmpeg".into())
}

/// H.264 MP4 of the frames by piping raw frames through ffmpeg (into a temporary file it can
/// seek in, for the index at the front: `+faststart`).
fn encode_mp4(frames: &[Tensor], fps: u32, (c, h, w): (usize, u32, u32)) -> Result<Vec<u8>> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let err = |m: String| CoreError::Image(format!("MP4: {m}"));
    let dir = tempfile::tempdir().map_err(|e| err(format!("cannot make a temporary folder: {e}")))?;
    let path = dir.path().join("out.mp4");
    let size = format!("{w}x{h}");
    let rate = fps.to_string();
    let mut child = Command::new(ffmpeg())
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "rawvideo"])
        .args(["-pix_fmt", if c == 1 { "gray" } else { "rgb24" }, "-s", &size, "-r", &rate, "-i", "-"])
        .args(["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-pix_fmt", "yuv420p"])
        .args(["-crf", "18", "-movflags", "+faststart"])
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            err(format!(
                "needs an ffmpeg on PATH (or GANTRY_FFMPEG) to encode H.264: {e}; gif and apng need none"
            ))
        })?;
    let mut stdin = child.stdin.take().expect("piped");
    let mut written = Ok(());
    for f in frames {
        written = interleaved(f).and_then(|px| stdin.write_all(&px).map_err(|e| err(e.to_string())));
        if written.is_err() {
            break;
        }
    }
    drop(stdin);
    let done = child.wait_with_output().map_err(|e| err(e.to_string()))?;
    if !done.status.success() {
        let why = String::from_utf8_lossy(&done.stderr);
        let why = why.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("no message");
        return Err(err(format!("ffmpeg failed ({}): {why}", done.status)));
    }
    written?;
    std::fs::read(&path).map_err(|e| err(format!("ffmpeg wrote no file: {e}")))
}

/// [`encode_animation`] written to `path` atomically.
pub fn save_animation(frames: &[Tensor], fps: u32, format: AnimationFormat, path: &Path) -> Result<()> {
    write_atomic(path, &encode_animation(frames, fps, format)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::AnimationDecoder;

    fn frames(c: i64) -> Vec<Tensor> {
        (0..5)
            .map(|t| {
                let base = Tensor::arange(c * 6 * 8, (Kind::Int64, tch::Device::Cpu)).reshape([c, 6, 8]);
                (base * 7 + t * 40).remainder(256).to_kind(Kind::Uint8)
            })
            .collect()
    }

    fn decoded(frames: image::Frames) -> Vec<image::RgbaImage> {
        frames.collect_frames().unwrap().into_iter().map(|f| f.into_buffer()).collect()
    }

    fn rgba_of(f: &Tensor) -> Vec<u8> {
        let c = f.size()[0] as usize;
        interleaved(f)
            .unwrap()
            .chunks_exact(c)
            .flat_map(|p| if c == 1 { [p[0], p[0], p[0], 255] } else { [p[0], p[1], p[2], 255] })
            .collect()
    }

    #[test]
    fn apng_round_trips_exactly_and_loops() {
        for c in [1, 3] {
            let fr = frames(c);
            let bytes = encode_animation(&fr, 10, AnimationFormat::Apng).unwrap();
            let dec = image::codecs::png::PngDecoder::new(std::io::Cursor::new(&bytes)).unwrap();
            let back = decoded(dec.apng().unwrap().into_frames());
            assert_eq!(back.len(), 5);
            for (a, b) in fr.iter().zip(&back) {
                assert_eq!(rgba_of(a), b.as_raw().clone(), "APNG is lossless");
            }
            // acTL: 5 frames, 0 plays (forever).
            let actl = bytes.windows(4).position(|w| w == b"acTL").unwrap();
            assert_eq!(&bytes[actl + 4..actl + 12], &[0, 0, 0, 5, 0, 0, 0, 0]);
        }
    }

    #[test]
    fn gif_frames_decode_close_to_the_originals_and_loop() {
        let fr = frames(3);
        let bytes = encode_animation(&fr, 20, AnimationFormat::Gif).unwrap();
        let dec = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(&bytes)).unwrap();
        let all = dec.into_frames().collect_frames().unwrap();
        assert_eq!(all.len(), 5);
        assert_eq!(all[0].delay().numer_denom_ms(), (50, 1));
        for (a, b) in fr.iter().zip(&all) {
            let want = rgba_of(a);
            let err = want.iter().zip(b.buffer().as_raw()).map(|(x, y)| (*x as i32 - *y as i32).abs()).max();
            // A 256-colour palette for 48 distinct colours: exact or nearly.
            assert!(err.unwrap() <= 8, "max channel error {err:?}");
        }
        assert!(bytes.windows(11).any(|w| w == b"NETSCAPE2.0"), "the looping extension");
    }

    #[test]
    fn bad_frames_are_named() {
        let mut fr = frames(1);
        fr[3] = Tensor::zeros([1, 5, 8], (Kind::Uint8, tch::Device::Cpu));
        let e = encode_animation(&fr, 10, AnimationFormat::Gif).unwrap_err().to_string();
        assert!(e.contains("frame 3"), "{e}");
        assert!(encode_animation(&[], 10, AnimationFormat::Apng).is_err());
        assert_eq!("apng".parse::<AnimationFormat>(), Ok(AnimationFormat::Apng));
        assert_eq!("mp4".parse::<AnimationFormat>(), Ok(AnimationFormat::Mp4));
        assert!("webm".parse::<AnimationFormat>().unwrap_err().contains("gif, apng or mp4"));
    }
}
