//! Text a user pastes (or anyone sends them) as a ticket: never a panic,
//! and whatever decodes encodes back to a ticket that decodes the same.
//! The bytes are tried as text, and sealed as a ticket's body (with a
//! valid checksum) so that the field decoder is reached.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memo_core::ticket::Ticket;

fuzz_target!(|bytes: &[u8]| {
    for text in [String::from_utf8_lossy(bytes).into_owned(), Ticket::seal(bytes)] {
        if let Ok(ticket) = Ticket::decode(&text) {
            let again = ticket.encode().expect("a decoded ticket is within the limits");
            assert_eq!(Ticket::decode(&again).unwrap(), ticket);
        }
    }
});
