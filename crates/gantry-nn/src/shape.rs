//! Checks of image sizes that several architectures' configurations share.

/// One clear line unless `resolution` is a power of two ≥ 8 and `channels` is 0 (taken from the
/// data), 1, 3 or 4, naming the `model.*` key.
pub fn validate_image(resolution: i64, channels: i64) -> Result<(), InvalidConfig> {
    if resolution < 8 || resolution & (resolution - 1) != 0 {
        return Err(InvalidConfig(format!(
            "model.resolution: expected a power of two ≥ 8, found {resolution}"
        )));
    }
    if !(0..=4).contains(&channels) || channels == 2 {
        return Err(InvalidConfig(format!(
            "model.channels: expected 0 (from the data), 1, 3 or 4, found {channels}"
        )));
    }
    Ok(())
}

/// A network configuration out of range: one line naming the setting, what it may be and what it
/// was (`model.resolution: expected a power of two ≥ 8, found 12`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidConfig(pub String);
