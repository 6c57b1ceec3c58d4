//! Exit codes, one per kind of failure, so scripts can react.

use ferry_engine::ErrorClass;

pub const OK: i32 = 0;
/// Something unexpected inside ferry.
pub const INTERNAL: i32 = 1;
/// Bad input: files, names, flags, metadata. Fix the input.
pub const INPUT: i32 = 2;
/// The portal refused the credentials or the group. Sign in again.
pub const AUTH: i32 = 3;
/// The network or the server failed after all retries. Try again later.
pub const NETWORK: i32 = 4;
/// The portal rejected the request for good. Read its message.
pub const REJECTED: i32 = 5;
pub const CANCELLED: i32 = 130;

pub fn code(class: ErrorClass) -> i32 {
    match class {
        ErrorClass::Input | ErrorClass::Local => INPUT,
        ErrorClass::Auth => AUTH,
        ErrorClass::Network | ErrorClass::Server => NETWORK,
        // An expired link and an unreadable answer are refusals too: a
        // script reads them as the portal saying no, as before they had
        // classes of their own.
        ErrorClass::Rejected
        | ErrorClass::Protocol
        | ErrorClass::Expired
        | ErrorClass::Undecodable => REJECTED,
        ErrorClass::Cancelled => CANCELLED,
    }
}
