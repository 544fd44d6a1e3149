//! The ownership module's pure parts: the ledger of memory owned by
//! non-root cells. (The hand-over code still lives in `cell::manage`; it
//! moves here, onto these parts, as the isolation-core work continues.)

pub mod ledger;
