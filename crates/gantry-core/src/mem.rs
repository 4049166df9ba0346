//! Memory as the commands see it: how much is available before a large allocation (so that a
//! request that cannot fit is one line, never an allocation failure and an abort), and the
//! process's peak resident set (what `gantry upscale` reports, and how its tiles are sized).
//! Linux reads `/proc`; elsewhere the figures are unknown and only absurd requests are refused.

use crate::error::{CoreError, Result};

/// Requests above this are refused even where the available memory is unknown (1 TiB).
const ABSURD: u128 = 1 << 40;

/// The value of `key` (in kB) in a `/proc` status-like file, in bytes.
fn proc_kb(path: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line[key.len()..].trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

/// Memory available to new allocations without swapping (`MemAvailable`), in bytes.
pub fn available() -> Option<u64> {
    proc_kb("/proc/meminfo", "MemAvailable:")
}

/// This process's resident set now (`VmRSS`), in bytes.
pub fn rss() -> Option<u64> {
    proc_kb("/proc/self/status", "VmRSS:")
}

/// This process's peak resident set (`VmHWM`) since it started or since [`reset_peak`], in bytes.
pub fn peak() -> Option<u64> {
    proc_kb("/proc/self/status", "VmHWM:")
}

/// Resets the peak resident set to the current one (Linux ≥ 4.0); whether it could.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// `bytes` for people: "512 MB", "3.2 GB" (decimal units).
pub fn human(bytes: u128) -> String {
    let b = bytes as f64;
    if b >= 1e12 {
        format!("{:.1} TB", b / 1e12)
    } else if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else {
        format!("{:.0} MB", (b / 1e6).ceil())
    }
}

/// Refuses, with one line, a request for `bytes` that does not fit in the available memory (or,
/// where that is unknown, is over 1 TiB). `what` says what needs it ("a grid of 100000000
/// samples of 3x32x32"), `hint` how to need less ("give --outdir DIR to write one PNG per
/// sample"; may be empty).
pub fn ensure_fits(what: &str, bytes: u128, hint: &str) -> Result<()> {
    let hint = if hint.is_empty() { String::new() } else { format!("; {hint}") };
    match available() {
        Some(free) if bytes > free as u128 => Err(CoreError::OutOfMemory(format!(
            "{what} needs {} of memory and {} is available{hint}",
            human(bytes),
            human(free as u128)
        ))),
        None if bytes > ABSURD => {
            Err(CoreError::OutOfMemory(format!("{what} needs {} of memory{hint}", human(bytes))))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_beyond_the_available_memory_are_one_line() {
        let e = ensure_fits("a grid of 10^12 images", 1u128 << 70, "draw fewer").unwrap_err().to_string();
        assert!(e.contains("a grid of 10^12 images needs") && e.ends_with("; draw fewer"), "{e}");
        assert!(!e.contains('\n') && ensure_fits("one image", 1 << 20, "").is_ok());
    }

    #[test]
    fn peak_resident_set_sees_a_large_allocation() {
        let (Some(base), true) = (rss(), reset_peak()) else { return }; // not Linux
        let v = vec![1u8; 256 << 20]; // written, so resident
        let after = peak().unwrap();
        assert!(after >= base + (200 << 20), "peak {after} after 256 MB on {base}");
        drop(v);
        assert_eq!(human(3_200_000_000), "3.2 GB");
        assert_eq!(human(511_400_000), "512 MB");
    }
}
