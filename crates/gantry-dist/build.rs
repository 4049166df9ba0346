//! Compiles the C++ shim (`shim/c10d_shim.cpp`, `sync_bn.cpp`, `optim.cpp`, `amp.cpp`) against the libtorch that torch-sys links
//! (its headers sit beside its `lib/`), with gantry's declarations of the gloo types
//! (`shim/gloo/`), and links it before libtorch_cpu, which holds c10d and gloo.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=shim");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    let lib = PathBuf::from(
        std::env::var("DEP_TCH_LIBTORCH_LIB")
            .expect("torch-sys reports its libtorch folder (DEP_TCH_LIBTORCH_LIB)"),
    );
    let root = lib.parent().expect("libtorch's lib/ has a parent").to_path_buf();
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into());
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .std("c++17")
        .file("shim/c10d_shim.cpp")
        .file("shim/sync_bn.cpp")
        .file("shim/optim.cpp")
        .file("shim/amp.cpp")
        .include("shim")
        .include(root.join("include"))
        .include(root.join("include/torch/csrc/api/include"))
        .define("_GLIBCXX_USE_CXX11_ABI", abi.as_str())
        .warnings(false)
        .flag_if_supported("-Wno-deprecated-declarations");
    let nccl = std::env::var_os("CARGO_FEATURE_NCCL").is_some();
    if nccl {
        // ProcessGroupNCCL.hpp needs the CUDA runtime's and NCCL's headers: the folders of the
        // nvidia-cuda-runtime, -crt, -cccl and nvidia-nccl-cu13 wheels, colon-separated.
        println!("cargo:rerun-if-env-changed=GANTRY_CUDA_INCLUDE");
        let dirs = std::env::var("GANTRY_CUDA_INCLUDE").unwrap_or_default();
        if dirs.is_empty() {
            panic!(
                "the nccl feature needs GANTRY_CUDA_INCLUDE: the CUDA runtime and NCCL header folders (`cargo xtask setup --nccl-headers` prints them)"
            );
        }
        for d in dirs.split(':').filter(|d| !d.is_empty()) {
            build.include(d);
            let cccl = PathBuf::from(d).join("cccl");
            if cccl.is_dir() {
                build.include(cccl);
            }
        }
        build.file("shim/c10d_nccl.cpp");
    }
    build.compile("gantry_c10d_shim");
    println!("cargo:rustc-link-search=native={}", lib.display());
    if nccl {
        println!("cargo:rustc-link-lib=dylib=torch_cuda");
        println!("cargo:rustc-link-lib=dylib=c10_cuda");
    }
    println!("cargo:rustc-link-lib=dylib=torch_cpu");
    println!("cargo:rustc-link-lib=dylib=c10");
}
