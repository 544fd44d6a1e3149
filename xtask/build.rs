//! The guest scripts are compiled into xtask (`include_str!`), and rustc
//! records files outside the package with their absolute paths: in a copied
//! tree cargo would watch the original's scripts, not the copy's. Watching
//! them by a path relative to this package rebuilds xtask whenever the
//! scripts of the tree it is built in change.
fn main() {
    println!("cargo:rerun-if-changed=../guest");
    println!("cargo:rerun-if-changed=build.rs");
}
