//! Jailhouse's error numbers (returned negated from hypercalls).

pub const EPERM: i64 = 1;
pub const ENOENT: i64 = 2;
pub const EIO: i64 = 5;
pub const E2BIG: i64 = 7;
pub const ENOMEM: i64 = 12;
pub const EBUSY: i64 = 16;
pub const EEXIST: i64 = 17;
pub const ENODEV: i64 = 19;
pub const EINVAL: i64 = 22;
pub const ERANGE: i64 = 34;
pub const ENOSYS: i64 = 38;
pub const ETIMEDOUT: i64 = 110;
