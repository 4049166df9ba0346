//! Readers against the real datasets of the local mirror (`$GANTRY_SHARED/datasets`, set by
//! `cargo xtask test` when `../shared` exists). The tests are `#[ignore]`d, so a machine without
//! the mirror reports them as ignored; `cargo xtask test` runs them when the mirror is there, and
//! one that runs without its data fails saying what is missing.

use std::collections::HashSet;
use std::path::PathBuf;

use gantry_data::{cifar, load, Fit, LoadOptions, Split};

/// `$GANTRY_SHARED/datasets/<what>`; panics naming what is missing.
fn shared(what: &str) -> PathBuf {
    let root = std::env::var_os("GANTRY_SHARED").map(PathBuf::from).map(|p| p.join("datasets").join(what));
    match root {
        Some(p) if p.exists() => p,
        Some(p) => panic!("needs {what} from the local mirror: {} not found", p.display()),
        None => panic!("needs {what} from the local mirror: GANTRY_SHARED is not set"),
    }
}

fn opts(split: Split) -> LoadOptions {
    LoadOptions { split, ..Default::default() }
}

/// Tests named `mirror::…`: `cargo xtask test` skips them by that name when the mirror is absent.
mod mirror {
    use super::*;

    #[test]
    #[ignore = "needs the local data mirror ($GANTRY_SHARED); cargo xtask test runs it when the mirror is there"]
    fn mnist_and_fashion_mnist_idx() {
        for name in ["mnist", "fashion-mnist"] {
            shared(name);
            let train = load(name, &opts(Split::Train)).unwrap();
            assert_eq!((train.len(), train.image_shape()), (60_000, [1, 28, 28]), "{name}");
            let labels = train.labels.as_ref().unwrap();
            for c in 0..10 {
                let n = labels.eq(c).sum(tch::Kind::Int64).int64_value(&[]);
                assert!((5_000..=7_000).contains(&n), "{name} class {c}: {n}");
            }
            assert_eq!(load(name, &opts(Split::Test)).unwrap().len(), 10_000);
            let padded = load(name, &LoadOptions { size: Some(32), ..opts(Split::Test) }).unwrap();
            assert_eq!(padded.image_shape(), [1, 32, 32]);
        }
    }

    #[test]
    #[ignore = "needs the local data mirror ($GANTRY_SHARED); cargo xtask test runs it when the mirror is there"]
    fn mnist_5k_is_mnist_train_and_matches_the_embedded_copy() {
        let (csv, _) = (shared("mnist-5k"), shared("mnist"));
        let on_disk = load(csv.join("mnist_5k.csv.gz").to_str().unwrap(), &opts(Split::Train)).unwrap();
        let embedded = load("mnist-5k", &opts(Split::Train)).unwrap();
        assert!(on_disk.images.equal(&embedded.images));
        assert!(on_disk.labels.as_ref().unwrap().equal(embedded.labels.as_ref().unwrap()));
        // Every row is an exact MNIST-train image (the provenance the README claims).
        let mnist = load("mnist", &opts(Split::Train)).unwrap();
        let all: Vec<u8> = Vec::try_from(mnist.images.flatten(0, -1)).unwrap();
        let set: HashSet<&[u8]> = all.chunks_exact(784).collect();
        let subset: Vec<u8> = Vec::try_from(embedded.images.flatten(0, -1)).unwrap();
        assert!(subset.chunks_exact(784).all(|img| set.contains(img)));
    }

    #[test]
    #[ignore = "needs the local data mirror ($GANTRY_SHARED); cargo xtask test runs it when the mirror is there"]
    fn cifar_binary_batches_written_from_the_jpeg_mirror_read_back_exactly() {
        shared("cifar10-jpg");
        let test = load("cifar10-jpg", &opts(Split::Test)).unwrap();
        assert_eq!((test.len(), test.image_shape()), (10_000, [3, 32, 32]));
        assert_eq!(test.classes, cifar::CLASSES.to_vec());
        assert_eq!(test.skipped.len(), 1, "the archive's README.md");
        assert!(
            test.skipped[0].file.ends_with("README.md")
                && test.skipped[0].why == gantry_data::SkipReason::NotAnImage
        );
        // Write the first 600 test images as six CIFAR binary batches, in a folder and a tar.gz.
        let n = 600;
        let px: Vec<u8> = Vec::try_from(test.images.narrow(0, 0, n).flatten(0, -1)).unwrap();
        let labels: Vec<i64> = Vec::try_from(test.labels.as_ref().unwrap().narrow(0, 0, n)).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cifar-10-batches-bin");
        std::fs::create_dir_all(&dir).unwrap();
        let names = [
            "data_batch_1.bin",
            "data_batch_2.bin",
            "data_batch_3.bin",
            "data_batch_4.bin",
            "data_batch_5.bin",
            "test_batch.bin",
        ];
        for (i, name) in names.iter().enumerate() {
            let (a, b) = (i * 100, (i + 1) * 100);
            std::fs::write(dir.join(name), cifar::encode_batch(&px[a * 3072..b * 3072], &labels[a..b]))
                .unwrap();
        }
        let tgz = tmp.path().join("cifar-10-binary.tar.gz");
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            std::fs::File::create(&tgz).unwrap(),
            flate2::Compression::fast(),
        ));
        tar.append_dir_all("cifar-10-batches-bin", &dir).unwrap();
        tar.into_inner().unwrap().finish().unwrap();
        for src in [tmp.path().to_path_buf(), tgz] {
            let train = cifar::load(&src, Split::Train).unwrap();
            assert_eq!(train.len(), 500);
            assert!(train.images.equal(&test.images.narrow(0, 0, 500)));
            assert!(train.labels.as_ref().unwrap().equal(&test.labels.as_ref().unwrap().narrow(0, 0, 500)));
            let t = cifar::load(&src, Split::Test).unwrap();
            assert!(t.images.equal(&test.images.narrow(0, 500, 100)));
            assert_eq!(cifar::load(&src, Split::All).unwrap().len(), 600);
        }
        // A truncated batch is refused with its name.
        let bytes = std::fs::read(dir.join("test_batch.bin")).unwrap();
        std::fs::write(dir.join("test_batch.bin"), &bytes[..bytes.len() - 7]).unwrap();
        let e = cifar::load(tmp.path(), Split::Test).unwrap_err().to_string();
        assert!(e.contains("test_batch.bin") && e.contains("3073"), "{e}");
    }

    #[test]
    #[ignore = "needs the local data mirror ($GANTRY_SHARED); cargo xtask test runs it when the mirror is there"]
    fn orl_faces_in_natural_class_order() {
        let dir = shared("orl-faces");
        let ds = load("orl-faces", &opts(Split::Train)).unwrap();
        assert_eq!((ds.len(), ds.image_shape()), (400, [1, 112, 92]));
        assert_eq!(ds.classes.len(), 40);
        assert_eq!(
            (ds.classes[0].as_str(), ds.classes[1].as_str(), ds.classes[39].as_str()),
            ("s1", "s2", "s40")
        );
        assert_eq!(ds.skipped.len(), 1, "the README");
        let fitted = load(
            dir.to_str().unwrap(),
            &LoadOptions { size: Some(64), channels: Some(3), fit: Fit::Auto, ..opts(Split::Train) },
        )
        .unwrap();
        assert_eq!(fitted.image_shape(), [3, 64, 64]);
        // Grey replicated to three equal channels.
        assert!(fitted.images.select(1, 0).equal(&fitted.images.select(1, 2)));
    }
}
