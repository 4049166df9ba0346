//! Links the `gantry-repro` binary to libtorch by rpath (see gantry-link).

fn main() {
    gantry_link::libtorch_rpath();
}
