//! The log tree's key spaces (see the module documentation of `sled_store`): each
//! key starts with one byte naming its space, then big-endian integers so that byte
//! order is numeric order.

pub const EVENT: u8 = b'e';
pub const STREAM: u8 = b's';
pub const IDEMPOTENCY: u8 = b'i';
pub const INDEXED: [u8; 1] = [b'x'];
pub const STREAM_END: u8 = 0xFF;

pub fn event(position: u64) -> [u8; 9] {
    let mut k = [EVENT; 9];
    k[1..].copy_from_slice(&position.to_be_bytes());
    k
}

pub fn stream(stream: &str, version: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(stream.len() + 10);
    k.push(STREAM);
    k.extend_from_slice(stream.as_bytes());
    k.push(STREAM_END);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

pub fn idempotency(key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.push(IDEMPOTENCY);
    k.extend_from_slice(key.as_bytes());
    k
}

pub fn u64_suffix(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    if bytes.len() >= 8 {
        b.copy_from_slice(&bytes[bytes.len() - 8..]);
    }
    u64::from_be_bytes(b)
}
