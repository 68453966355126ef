//! Bundles: operations in a file, for machines that never meet (MISSION
//! F15, the "dot" seed's file transport). `memo bundle export` writes one,
//! `memo bundle import` reads it on the other machine.
//!
//! # Format (version [`VERSION`])
//!
//! | bytes | what |
//! |---|---|
//! | 4 | the magic [`MAGIC`], `MEMB` |
//! | 1 | the format version, [`VERSION`] |
//! | 16 | the working copy's id |
//! | varint | the number of operations `n` |
//! | `n` × (varint `len`, `len` bytes) | each operation's wire encoding ([`crate::TreeOp::encode`]) |
//! | 32 | HMAC-SHA-256 over every byte before it, keyed by [`BundleKey`] |
//!
//! Varints are unsigned LEB128 (postcard's), at most 10 bytes. The key is
//! SHA-256 over the domain tag [`KEY_DOMAIN`] (`memo/bundle/v1`) and the
//! working copy's 32-byte secret: only a member can make a bundle that a
//! member takes, and a bundle that was changed after it was made (a bit
//! flipped, an operation added or cut) is refused whole.
//!
//! A reader checks, in order: the magic, the version (a newer one is
//! refused: [`BundleError::Version`]), the working copy (another one's is
//! refused: [`BundleError::ForeignWorkingCopy`]), the tag
//! ([`BundleError::Unauthenticated`]), then decodes the operations; one
//! that does not decode makes the bundle malformed. An operation of an
//! unknown kind decodes (as opaque) and is kept, as on the wire. Taking
//! the operations is the node's job, and idempotent: one already held
//! changes nothing.
//!
//! A bundle does not encrypt: the file holds the operations in clear. Keep
//! it as private as the working copy.

use crate::encoding::DecodeError;
use crate::protocol::catchup::MAX_OP_BYTES;
use crate::TreeOp;
use sha2::{Digest, Sha256};

/// What every bundle starts with.
pub const MAGIC: &[u8; 4] = b"MEMB";
/// The bundle format this code writes and reads.
pub const VERSION: u8 = 1;
/// The domain tag of the bundle key: SHA-256(`KEY_DOMAIN` ‖ secret).
pub const KEY_DOMAIN: &[u8] = b"memo/bundle/v1";
/// The length of the authentication tag at the end.
pub const TAG_LEN: usize = 32;
/// A bundle longer than this is refused unread (4 GiB).
pub const MAX_BUNDLE_BYTES: u64 = 1 << 32;

const HEADER_LEN: usize = MAGIC.len() + 1 + 16;

/// Why a bundle is not taken. Nothing of a refused bundle is applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    #[error("not a Memo bundle (it should start with \"MEMB\")")]
    NotABundle,
    #[error("the bundle is from a newer Memo (bundle format {0}; this Memo reads {VERSION}): upgrade memo")]
    Version(u8),
    #[error(
        "the bundle is of working copy {theirs}, not this one ({ours}): import it into a clone of that working copy"
    )]
    ForeignWorkingCopy { ours: String, theirs: String },
    #[error("the bundle was not made with this working copy's secret, or it was changed after it was made: refused")]
    Unauthenticated,
    #[error("the bundle is larger than {MAX_BUNDLE_BYTES} bytes")]
    TooLarge,
    #[error("the bundle is malformed: {0}")]
    Malformed(String),
}

impl From<DecodeError> for BundleError {
    fn from(error: DecodeError) -> Self {
        BundleError::Malformed(error.to_string())
    }
}

/// The key that authenticates a working copy's bundles, derived from its
/// secret. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct BundleKey([u8; 32]);

impl std::fmt::Debug for BundleKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BundleKey(..)")
    }
}

impl BundleKey {
    /// SHA-256 over [`KEY_DOMAIN`] and the secret: the secret itself keys
    /// nothing directly (the network's pre-shared key derives from it with
    /// another tag).
    pub fn from_secret(secret: &[u8; 32]) -> BundleKey {
        BundleKey(Sha256::new().chain_update(KEY_DOMAIN).chain_update(secret).finalize().into())
    }

    fn tag(&self, bytes: &[u8]) -> [u8; TAG_LEN] {
        hmac_sha256(&self.0, bytes)
    }
}

/// A bundle of `ops` (each replica's in sequence order, causal order
/// preferred: the receiver then buffers little) for `working_copy`.
pub fn encode(working_copy: &[u8; 16], key: &BundleKey, ops: &[TreeOp]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.push(VERSION);
    out.extend_from_slice(working_copy);
    push_varint(&mut out, ops.len() as u64);
    for op in ops {
        let bytes = op.encode();
        push_varint(&mut out, bytes.len() as u64);
        out.extend_from_slice(&bytes);
    }
    seal_in_place(out, key)
}

/// The working copy a bundle names, read from its header alone (nothing
/// is checked beyond the magic and version).
pub fn working_copy_of(bytes: &[u8]) -> Result<[u8; 16], BundleError> {
    let header = bytes.get(..HEADER_LEN).ok_or(BundleError::NotABundle)?;
    if &header[..4] != MAGIC {
        return Err(BundleError::NotABundle);
    }
    if header[4] != VERSION {
        return Err(BundleError::Version(header[4]));
    }
    Ok(header[5..].try_into().expect("16 bytes"))
}

/// Reads a bundle for `working_copy` (see the module docs for the order
/// of the checks) and returns its operations, decoded.
pub fn decode(bytes: &[u8], working_copy: &[u8; 16], key: &BundleKey) -> Result<Vec<TreeOp>, BundleError> {
    if bytes.len() as u64 > MAX_BUNDLE_BYTES {
        return Err(BundleError::TooLarge);
    }
    let theirs = working_copy_of(bytes)?;
    if theirs != *working_copy {
        return Err(BundleError::ForeignWorkingCopy { ours: hex(working_copy), theirs: hex(&theirs) });
    }
    let body_len = bytes.len().checked_sub(TAG_LEN).filter(|&n| n >= HEADER_LEN).ok_or(BundleError::Unauthenticated)?;
    let (body, tag) = bytes.split_at(body_len);
    if !constant_time_eq(&key.tag(body), tag) {
        return Err(BundleError::Unauthenticated);
    }
    let mut rest = &body[HEADER_LEN..];
    let count = take_varint(&mut rest)?;
    // Each operation takes at least its one-byte length: no count larger
    // than the bytes left is honest, so none makes us allocate much.
    if count > rest.len() as u64 {
        return Err(BundleError::Malformed(format!("{count} operations in {} bytes", rest.len())));
    }
    let mut ops = Vec::with_capacity(count as usize);
    for index in 0..count {
        let len = take_varint(&mut rest)?;
        if len > MAX_OP_BYTES as u64 || len > rest.len() as u64 {
            return Err(BundleError::Malformed(format!("operation {index} claims {len} bytes")));
        }
        let (op, after) = rest.split_at(len as usize);
        let op = TreeOp::decode(op).map_err(|e| BundleError::Malformed(format!("operation {index}: {e}")))?;
        ops.push(op);
        rest = after;
    }
    if !rest.is_empty() {
        return Err(BundleError::Malformed(format!("{} bytes after the operations", rest.len())));
    }
    Ok(ops)
}

/// `body` (a bundle without its tag) with a valid tag under `key`: lets
/// the fuzzer and the test vectors reach the decoder past the tag.
#[doc(hidden)]
pub fn seal(body: &[u8], key: &BundleKey) -> Vec<u8> {
    seal_in_place(body.to_vec(), key)
}

fn seal_in_place(mut body: Vec<u8>, key: &BundleKey) -> Vec<u8> {
    let tag = key.tag(&body);
    body.extend_from_slice(&tag);
    body
}

fn push_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn take_varint(bytes: &mut &[u8]) -> Result<u64, BundleError> {
    let (value, rest): (u64, _) = postcard::take_from_bytes(bytes).map_err(DecodeError::from)?;
    *bytes = rest;
    Ok(value)
}

/// HMAC (RFC 2104) with SHA-256, for a key of at most one block.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    assert!(key.len() <= BLOCK, "a key longer than a block is hashed first; ours never is");
    let (mut inner, mut outer) = ([0x36u8; BLOCK], [0x5cu8; BLOCK]);
    for (i, byte) in key.iter().enumerate() {
        inner[i] ^= byte;
        outer[i] ^= byte;
    }
    let inner = Sha256::new().chain_update(inner).chain_update(message).finalize();
    Sha256::new().chain_update(outer).chain_update(inner).finalize().into()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

use crate::hex::encode as hex;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::EmptyBase;
    use crate::{ReplicaId, WorkTree};
    use std::sync::Arc;

    const WC: [u8; 16] = [3; 16];

    fn ops() -> Vec<TreeOp> {
        let mut tree = WorkTree::new(ReplicaId::from_u128(1), Arc::new(EmptyBase));
        let mut ops = tree.create_text("a.txt", "hello").unwrap();
        ops.push(tree.create_dir("d").unwrap());
        ops
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let tag = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex(&tag), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn a_bundle_reads_back() {
        let key = BundleKey::from_secret(&[9; 32]);
        let bytes = encode(&WC, &key, &ops());
        assert_eq!(decode(&bytes, &WC, &key), Ok(ops()));
        assert_eq!(working_copy_of(&bytes), Ok(WC));
        assert_eq!(decode(&encode(&WC, &key, &[]), &WC, &key), Ok(vec![]));
    }

    #[test]
    fn foreign_unauthenticated_and_damaged_bundles_are_refused() {
        let key = BundleKey::from_secret(&[9; 32]);
        let bytes = encode(&WC, &key, &ops());
        assert!(matches!(decode(&bytes, &[4; 16], &key), Err(BundleError::ForeignWorkingCopy { .. })));
        let stranger = BundleKey::from_secret(&[8; 32]);
        assert_eq!(decode(&bytes, &WC, &stranger), Err(BundleError::Unauthenticated));
        for i in HEADER_LEN..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 1;
            assert_eq!(decode(&damaged, &WC, &key), Err(BundleError::Unauthenticated), "byte {i}");
        }
        assert_eq!(decode(&bytes[..bytes.len() - 1], &WC, &key), Err(BundleError::Unauthenticated));
        assert_eq!(decode(b"MEMH", &WC, &key), Err(BundleError::NotABundle));
        let mut newer = bytes.clone();
        newer[4] = VERSION + 1;
        assert_eq!(decode(&newer, &WC, &key), Err(BundleError::Version(VERSION + 1)));
    }

    #[test]
    fn a_sealed_body_that_lies_about_its_operations_is_malformed() {
        let key = BundleKey::from_secret(&[9; 32]);
        let mut body = MAGIC.to_vec();
        body.push(VERSION);
        body.extend_from_slice(&WC);
        for tail in [&[200u8, 1][..], &[1, 5, 0], &[1, 1, 0, 7]] {
            let mut bytes = body.clone();
            bytes.extend_from_slice(tail);
            assert!(matches!(decode(&seal(&bytes, &key), &WC, &key), Err(BundleError::Malformed(_))), "{tail:?}");
        }
    }
}
