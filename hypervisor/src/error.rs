//! The hypervisor's error type. Every fallible path returns an [`Error`];
//! Jailhouse's negative errno values exist only at the hypercall boundary
//! ([`Error::errno`]), so no code below it reasons in numbers.

use crate::errno;

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The caller may not do this (not the root cell, wrong cell).
    NotPermitted,
    /// No such cell.
    NoSuchCell,
    /// The page pool or the heap cannot hold what the request needs.
    NoMemory,
    /// A configuration larger than the hypervisor copies.
    TooBig,
    /// A CPU, memory range or interrupt is in use by another cell, or a
    /// CPU did not stop in time.
    Busy,
    /// A cell of that name exists.
    Exists,
    /// Hardware the request needs is not there.
    NoDevice,
    /// The request or the configuration is malformed or unsafe.
    Invalid,
    /// Not implemented.
    NotImplemented,
    /// A cell did not answer a comm-region request in time (cell::shutdown).
    TimedOut,
}

/// Result of the hypervisor's fallible operations.
pub type Result<T> = core::result::Result<T, Error>;

impl Error {
    /// The negative errno Jailhouse's ABI returns for this error.
    pub fn errno(self) -> i64 {
        -match self {
            Error::NotPermitted => errno::EPERM,
            Error::NoSuchCell => errno::ENOENT,
            Error::NoMemory => errno::ENOMEM,
            Error::TooBig => errno::E2BIG,
            Error::Busy => errno::EBUSY,
            Error::Exists => errno::EEXIST,
            Error::NoDevice => errno::ENODEV,
            Error::Invalid => errno::EINVAL,
            Error::NotImplemented => errno::ENOSYS,
            Error::TimedOut => errno::ETIMEDOUT,
        }
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Error::NotPermitted => "not permitted",
            Error::NoSuchCell => "no such cell",
            Error::NoMemory => "out of hypervisor memory",
            Error::TooBig => "configuration too large",
            Error::Busy => "resource busy",
            Error::Exists => "cell exists",
            Error::NoDevice => "no such device",
            Error::Invalid => "invalid argument",
            Error::NotImplemented => "not implemented",
            Error::TimedOut => "no answer in time",
        })
    }
}

impl From<crate::mm::paging::MapError> for Error {
    fn from(e: crate::mm::paging::MapError) -> Self {
        match e {
            crate::mm::paging::MapError::NoMemory => Error::NoMemory,
            crate::mm::paging::MapError::BadRange => Error::Invalid,
        }
    }
}

impl From<alloc::collections::TryReserveError> for Error {
    fn from(_: alloc::collections::TryReserveError) -> Self {
        Error::NoMemory
    }
}

/// Logs why a configuration or request is refused and returns `e`: every
/// refusal names its reason on the hypervisor console (and so in the
/// driver's dmesg dump), never just a number.
pub fn refuse(e: Error, why: core::fmt::Arguments) -> Error {
    log::warn!("refused ({e}): {why}");
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_values_are_jailhouses() {
        assert_eq!(Error::NotPermitted.errno(), -1);
        assert_eq!(Error::NoSuchCell.errno(), -2);
        assert_eq!(Error::TooBig.errno(), -7);
        assert_eq!(Error::NoMemory.errno(), -12);
        assert_eq!(Error::Busy.errno(), -16);
        assert_eq!(Error::Exists.errno(), -17);
        assert_eq!(Error::NoDevice.errno(), -19);
        assert_eq!(Error::Invalid.errno(), -22);
        assert_eq!(Error::NotImplemented.errno(), -38);
    }
}
