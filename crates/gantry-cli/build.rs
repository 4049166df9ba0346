//! Links the `gantry` binary to libtorch by rpath (see gantry-link).

fn main() {
    gantry_link::libtorch_rpath();
}
