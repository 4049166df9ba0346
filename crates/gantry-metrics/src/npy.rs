//! NumPy interop: pytorch-fid's statistics files (`.npz` with `mu` `[d]` and `sigma` `[d, d]`,
//! float64; gantry adds `n`, the number of samples, an int64 scalar that pytorch-fid ignores) and
//! feature matrices (`.npy`, `[N, d]`, float32 or float64).

use std::fs::File;
use std::path::Path;

use ndarray::{Array1, Array2};
use ndarray_npy::{NpzReader, NpzWriter, ReadNpyExt};
use tch::{Kind, Tensor};

use crate::{MetricError, Result};

fn file_err(path: &Path, message: impl std::fmt::Display) -> MetricError {
    MetricError::File { path: path.to_path_buf(), message: message.to_string() }
}

fn to_tensor1(a: Array1<f64>) -> Tensor {
    Tensor::from_slice(a.as_slice().expect("standard layout"))
}

fn to_tensor2(a: Array2<f64>) -> Tensor {
    let (r, c) = a.dim();
    let a = a.as_standard_layout().to_owned();
    Tensor::from_slice(a.as_slice().expect("standard layout")).reshape([r as i64, c as i64])
}

fn to_vec(t: &Tensor) -> Result<Vec<f64>> {
    Ok(Vec::<f64>::try_from(t.to_device(tch::Device::Cpu).to_kind(Kind::Double).contiguous().flatten(0, -1))?)
}

/// `mu` and `sigma` of a statistics file, and the sample count when the file carries one.
#[derive(Debug)]
pub struct StatsFile {
    /// The feature mean `[d]`, float64.
    pub mu: Tensor,
    /// The feature covariance `[d, d]`, float64.
    pub sigma: Tensor,
    /// `n` (files gantry wrote); None for pytorch-fid's, clean-fid's and most others.
    pub count: Option<usize>,
}

/// Reads `mu` and `sigma` (and gantry's `n`, when present) from a pytorch-fid `.npz`.
pub fn read_stats(path: &Path) -> Result<StatsFile> {
    let file = File::open(path).map_err(|e| file_err(path, e))?;
    read_stats_from(std::io::BufReader::new(file), path)
}

/// [`read_stats`] of an `.npz` read from `r`; `path` names it in errors.
pub fn read_stats_from(r: impl std::io::Read + std::io::Seek, path: &Path) -> Result<StatsFile> {
    let mut npz = NpzReader::new(r).map_err(|e| file_err(path, format!("not an .npz file ({e})")))?;
    let mu: Array1<f64> = npz
        .by_name("mu.npy")
        .or_else(|_| npz.by_name("mu"))
        .map_err(|e| file_err(path, format!("no float64 array 'mu' ({e})")))?;
    let sigma: Array2<f64> = npz
        .by_name("sigma.npy")
        .or_else(|_| npz.by_name("sigma"))
        .map_err(|e| file_err(path, format!("no float64 array 'sigma' ({e})")))?;
    if sigma.dim() != (mu.len(), mu.len()) {
        return Err(file_err(
            path,
            format!("sigma is {:?}, expected [{}, {}] to match mu", sigma.dim(), mu.len(), mu.len()),
        ));
    }
    let count = npz
        .by_name::<ndarray::OwnedRepr<i64>, ndarray::Ix0>("n.npy")
        .or_else(|_| npz.by_name("n"))
        .ok()
        .and_then(|n| usize::try_from(n.into_scalar()).ok());
    Ok(StatsFile { mu: to_tensor1(mu), sigma: to_tensor2(sigma), count })
}

/// Writes `mu` `[d]` and `sigma` `[d, d]` as float64 arrays in an `.npz` (uncompressed, as
/// `np.savez`), with the sample count `n` as an int64 scalar when known, atomically.
pub fn write_stats(path: &Path, mu: &Tensor, sigma: &Tensor, count: Option<usize>) -> Result<()> {
    let d = mu.size()[0] as usize;
    let mu_a = Array1::from(to_vec(mu)?);
    let sigma_a =
        Array2::from_shape_vec((d, d), to_vec(sigma)?).map_err(|e| MetricError::Invalid(e.to_string()))?;
    gantry_core::fs::write_atomic_with(path, |f| {
        let mut npz = NpzWriter::new(f);
        npz.add_array("mu", &mu_a).map_err(std::io::Error::other)?;
        npz.add_array("sigma", &sigma_a).map_err(std::io::Error::other)?;
        if let Some(n) = count {
            npz.add_array("n", &ndarray::arr0(n as i64)).map_err(std::io::Error::other)?;
        }
        npz.finish().map_err(std::io::Error::other)?;
        Ok(())
    })?;
    Ok(())
}

/// Writes a matrix `[N, d]` (or a vector `[N]`) as a float32 `.npy` (i64 tensors as int64),
/// atomically.
pub fn write_array(path: &Path, t: &Tensor) -> Result<()> {
    use ndarray::ArrayD;
    use ndarray_npy::WriteNpyExt;
    let t = t.to_device(tch::Device::Cpu).contiguous();
    let shape: Vec<usize> = t.size().iter().map(|&s| s as usize).collect();
    let bad = |e: ndarray::ShapeError| MetricError::Invalid(e.to_string());
    gantry_core::fs::write_atomic_with(path, |f| {
        let res = if t.kind() == Kind::Int64 {
            let v = Vec::<i64>::try_from(t.flatten(0, -1)).map_err(std::io::Error::other)?;
            ArrayD::from_shape_vec(shape.clone(), v).map_err(|e| std::io::Error::other(bad(e)))?.write_npy(f)
        } else {
            let v =
                Vec::<f32>::try_from(t.to_kind(Kind::Float).flatten(0, -1)).map_err(std::io::Error::other)?;
            ArrayD::from_shape_vec(shape.clone(), v).map_err(|e| std::io::Error::other(bad(e)))?.write_npy(f)
        };
        res.map_err(std::io::Error::other)
    })?;
    Ok(())
}

/// Reads a feature matrix `[N, d]` from `.npy` (float32 or float64) as an f32 tensor.
pub fn read_features(path: &Path) -> Result<Tensor> {
    read_features_from(&std::fs::read(path).map_err(|e| file_err(path, e))?, path)
}

/// [`read_features`] of `.npy` bytes; `path` names them in errors.
pub fn read_features_from(bytes: &[u8], path: &Path) -> Result<Tensor> {
    if let Ok(a) = Array2::<f32>::read_npy(bytes) {
        let (r, c) = a.dim();
        let a = a.as_standard_layout().to_owned();
        return Ok(Tensor::from_slice(a.as_slice().expect("standard")).reshape([r as i64, c as i64]));
    }
    match Array2::<f64>::read_npy(bytes) {
        Ok(a) => Ok(to_tensor2(a).to_kind(Kind::Float)),
        Err(e) => Err(file_err(path, format!("expected a 2-D float32/float64 .npy feature matrix ({e})"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray_npy::WriteNpyExt;

    #[test]
    fn stats_round_trip_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.npz");
        let mu = Tensor::from_slice(&[1.0f64, -2.0, 0.5]);
        let sigma = Tensor::from_slice(&[2.0f64, 0.1, 0.0, 0.1, 1.0, 0.3, 0.0, 0.3, 4.0]).reshape([3, 3]);
        write_stats(&p, &mu, &sigma, Some(5000)).unwrap();
        let st = read_stats(&p).unwrap();
        assert!(st.mu.equal(&mu) && st.sigma.equal(&sigma));
        assert_eq!(st.count, Some(5000));
        // pytorch-fid's files carry mu and sigma only: no count.
        let plain = dir.path().join("plain.npz");
        let mut npz = NpzWriter::new(File::create(&plain).unwrap());
        npz.add_array("mu", &Array1::from(vec![1.0f64, -2.0, 0.5])).unwrap();
        npz.add_array("sigma", &Array2::<f64>::eye(3)).unwrap();
        npz.finish().unwrap();
        assert_eq!(read_stats(&plain).unwrap().count, None);
        std::fs::write(dir.path().join("bad.npz"), b"PK\x03\x04 nope").unwrap();
        let e = read_stats(&dir.path().join("bad.npz")).unwrap_err().to_string();
        assert!(e.contains("bad.npz"), "{e}");
    }

    #[test]
    fn features_in_either_precision() {
        let dir = tempfile::tempdir().unwrap();
        let a = Array2::from_shape_vec((2, 3), vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        a.write_npy(File::create(dir.path().join("f32.npy")).unwrap()).unwrap();
        a.mapv(f64::from).write_npy(File::create(dir.path().join("f64.npy")).unwrap()).unwrap();
        for f in ["f32.npy", "f64.npy"] {
            let t = read_features(&dir.path().join(f)).unwrap();
            assert_eq!(t.size(), vec![2, 3]);
            assert_eq!(t.double_value(&[1, 2]), 6.0);
        }
        std::fs::write(dir.path().join("x.npy"), b"junk").unwrap();
        assert!(read_features(&dir.path().join("x.npy")).unwrap_err().to_string().contains("x.npy"));
    }
}
