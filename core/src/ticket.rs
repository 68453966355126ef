//! Tickets: how a working copy's membership travels from one machine to
//! another, as a string a user pastes (`memo share` prints one, `memo join
//! <ticket>` takes it).
//!
//! A ticket carries the working copy's id (its gossip topic derives from
//! it), its name (for people), its secret (which makes the holder a
//! member: treat a ticket like a password), the Git commit it stands on,
//! and the addresses where the sharing node listens (none is fine: peers
//! on a LAN find each other by mDNS).
//!
//! The text is `memo` followed by RFC 4648 base32 (lower case, no
//! padding) of: a version byte (1), the postcard encoding of [`Ticket`],
//! and the first four bytes of SHA-256 over the two, so that a ticket
//! damaged in copying is refused rather than misread. Decoding accepts
//! either case and ignores surrounding whitespace.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What every ticket's text starts with.
pub const PREFIX: &str = "memo";

/// The ticket format this code writes and reads.
pub const VERSION: u8 = 1;

/// At most this many addresses in a ticket...
pub const MAX_ADDRESSES: usize = 16;

/// ...each at most this long (a binary multiaddr)...
pub const MAX_ADDRESS_LEN: usize = 256;

/// ...and a name at most this long, in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// A ticket's text is refused unread beyond this length.
pub const MAX_TEXT_LEN: usize = 8192;

const CHECKSUM_LEN: usize = 4;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A working copy's membership, as a ticket carries it. `Debug` hides the
/// secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// The working copy's id.
    pub working_copy: [u8; 16],
    /// Its name, for people: the sharer's directory name by default.
    pub name: String,
    /// The members' shared secret.
    pub secret: [u8; 32],
    /// The Git commit the working copy stands on (its object id: 20 bytes
    /// for SHA-1, 32 for SHA-256); empty before the first commit.
    pub base: Vec<u8>,
    /// Where the sharing node listens: binary multiaddrs (libp2p's
    /// encoding), each ending in the node's `/p2p/<peer id>`.
    pub addresses: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket")
            .field("working_copy", &self.working_copy)
            .field("name", &self.name)
            .field("secret", &"..")
            .field("base", &crate::hex::encode(&self.base))
            .field("addresses", &self.addresses.len())
            .finish()
    }
}

/// Why a string is not a ticket.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TicketError {
    #[error("not a Memo ticket (it should start with \"{PREFIX}\")")]
    Prefix,
    #[error("the ticket is longer than {MAX_TEXT_LEN} characters")]
    TooLong,
    #[error("the ticket holds a character that is not base32: {0:?}")]
    Character(char),
    #[error("the ticket is damaged (its checksum does not match): copy it again")]
    Checksum,
    #[error("the ticket is from a newer Memo (ticket version {0}): upgrade memo")]
    Version(u8),
    #[error("the ticket does not decode: {0}")]
    Malformed(&'static str),
}

impl Ticket {
    /// The ticket as text. Fails only if a field breaks a limit.
    pub fn encode(&self) -> Result<String, TicketError> {
        self.check_limits()?;
        let mut body = vec![VERSION];
        body.extend(postcard::to_allocvec(self).map_err(|_| TicketError::Malformed("does not encode"))?);
        Ok(Ticket::seal(&body))
    }

    /// Reads a ticket's text (see the module docs).
    pub fn decode(text: &str) -> Result<Ticket, TicketError> {
        let text = text.trim();
        if text.len() > MAX_TEXT_LEN {
            return Err(TicketError::TooLong);
        }
        let body = match text.get(..PREFIX.len()) {
            Some(prefix) if prefix.eq_ignore_ascii_case(PREFIX) => &text[PREFIX.len()..],
            _ => return Err(TicketError::Prefix),
        };
        let bytes = base32_decode(body)?;
        if bytes.len() < 1 + CHECKSUM_LEN {
            return Err(TicketError::Malformed("too short"));
        }
        let (signed, checksum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        if Sha256::digest(signed)[..CHECKSUM_LEN] != *checksum {
            return Err(TicketError::Checksum);
        }
        if signed[0] != VERSION {
            return Err(TicketError::Version(signed[0]));
        }
        let (ticket, rest): (Ticket, _) =
            postcard::take_from_bytes(&signed[1..]).map_err(|_| TicketError::Malformed("bad fields"))?;
        if !rest.is_empty() {
            return Err(TicketError::Malformed("trailing bytes"));
        }
        ticket.check_limits()?;
        Ok(ticket)
    }

    /// Ticket text around arbitrary `body` bytes (version byte and fields),
    /// with a valid checksum: lets the fuzzer reach the field decoder.
    #[doc(hidden)]
    pub fn seal(body: &[u8]) -> String {
        let mut bytes = body.to_vec();
        let checksum = Sha256::digest(&bytes);
        bytes.extend_from_slice(&checksum[..CHECKSUM_LEN]);
        let mut text = String::from(PREFIX);
        base32_encode(&bytes, &mut text);
        text
    }

    fn check_limits(&self) -> Result<(), TicketError> {
        if self.name.len() > MAX_NAME_LEN {
            return Err(TicketError::Malformed("name too long"));
        }
        if ![0, 20, 32].contains(&self.base.len()) {
            return Err(TicketError::Malformed("the base is not a Git object id"));
        }
        if self.addresses.len() > MAX_ADDRESSES {
            return Err(TicketError::Malformed("too many addresses"));
        }
        if self.addresses.iter().any(|a| a.is_empty() || a.len() > MAX_ADDRESS_LEN) {
            return Err(TicketError::Malformed("an address is empty or too long"));
        }
        Ok(())
    }
}

fn base32_encode(bytes: &[u8], out: &mut String) {
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
}

/// Base32 without padding, either case. Leftover bits past the last whole
/// byte must be zero (as the encoder writes them), so one ticket has one
/// spelling up to case.
fn base32_decode(text: &str) -> Result<Vec<u8>, TicketError> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.chars() {
        let value = match c.to_ascii_lowercase() {
            c @ 'a'..='z' => c as u32 - 'a' as u32,
            c @ '2'..='7' => c as u32 - '2' as u32 + 26,
            _ => return Err(TicketError::Character(c)),
        };
        buffer = ((buffer << 5) | value) & 0xFFF;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    if bits >= 5 || buffer & ((1 << bits) - 1) != 0 {
        return Err(TicketError::Malformed("stray bits at the end"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket() -> Ticket {
        Ticket {
            working_copy: [3; 16],
            name: "memo".to_string(),
            secret: [9; 32],
            base: vec![1; 20],
            addresses: vec![vec![4, 127, 0, 0, 1, 6, 0x1f, 0x90]],
        }
    }

    #[test]
    fn a_ticket_reads_back_in_either_case_and_with_whitespace() {
        let text = ticket().encode().unwrap();
        assert!(text.starts_with("memo") && text[4..].bytes().all(|b| ALPHABET.contains(&b)), "{text}");
        assert_eq!(Ticket::decode(&text).unwrap(), ticket());
        assert_eq!(Ticket::decode(&format!("  {}\n", text.to_uppercase())).unwrap(), ticket());
    }

    #[test]
    fn every_single_character_change_is_refused() {
        let text = ticket().encode().unwrap();
        for i in PREFIX.len()..text.len() {
            let mut damaged = text.clone().into_bytes();
            damaged[i] = if damaged[i] == b'a' { b'b' } else { b'a' };
            let damaged = String::from_utf8(damaged).unwrap();
            assert!(Ticket::decode(&damaged).is_err(), "position {i} changed and still read");
        }
    }

    #[test]
    fn wrong_prefix_version_and_characters_say_what_is_wrong() {
        assert_eq!(Ticket::decode("docaaaa"), Err(TicketError::Prefix));
        assert_eq!(Ticket::decode("memo!!"), Err(TicketError::Character('!')));
        let text = Ticket::seal(&[VERSION + 1, 0]);
        assert_eq!(Ticket::decode(&text), Err(TicketError::Version(VERSION + 1)));
    }

    #[test]
    fn limits_hold_both_ways() {
        let mut big = ticket();
        big.addresses = vec![vec![1]; MAX_ADDRESSES + 1];
        assert!(big.encode().is_err());
        big.addresses.clear();
        big.name = "x".repeat(MAX_NAME_LEN + 1);
        assert!(big.encode().is_err());
        assert_eq!(Ticket::decode(&"memo".repeat(MAX_TEXT_LEN)), Err(TicketError::TooLong));
    }
}
