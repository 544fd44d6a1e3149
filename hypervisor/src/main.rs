//! The sysHyper EL2 image. Everything lives in the library; this binary only
//! links it with the image layout (see linker.ld).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
use syshyper_hv as _;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("the sysHyper image is built for aarch64-unknown-none: use `cargo xtask build`");
}
