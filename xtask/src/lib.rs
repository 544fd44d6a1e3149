//! The library behind `cargo xtask`: building, booting QEMU and testing.
//! A library (not only a binary) so that test tables and the Linux guest
//! code can use every helper, and so the helpers are unit-tested.

pub mod boot_blob;
pub mod bootfirst_linux;
pub mod bundle;
pub mod cmd;
pub mod config_boards;
pub mod dist;
pub mod fuzz_ci;
pub mod guest;
pub mod harness;
pub mod image_header;
pub mod images;
pub mod le;
pub mod paths;
pub mod platform;
pub mod qemu;
pub mod qemu_bpo;
pub mod regdump;
pub mod run_linux;
pub mod runner;
pub mod setup;
pub mod sysconfig;
pub mod systests;
pub mod systests_ivshmem;
pub mod systests_passthru;
pub mod systests_smmu_s2;
pub mod systests_linux;
pub mod systests_zcu102;
