//! A bundle file from anyone: never a panic. The bytes are tried as they
//! are (the tag then almost never matches), and sealed with a valid tag
//! (as a member's bundle) so that the operations' decoder is reached;
//! whatever decodes encodes back to a bundle that decodes the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memo_core::protocol::bundle::{self, BundleKey};

fuzz_target!(|bytes: &[u8]| {
    let key = BundleKey::from_secret(&[7; 32]);
    let working_copy = bytes.get(5..21).and_then(|b| <[u8; 16]>::try_from(b).ok()).unwrap_or([0; 16]);
    for candidate in [bytes.to_vec(), bundle::seal(bytes, &key)] {
        if let Ok(ops) = bundle::decode(&candidate, &working_copy, &key) {
            let again = bundle::encode(&working_copy, &key, &ops);
            assert_eq!(bundle::decode(&again, &working_copy, &key).unwrap(), ops);
        }
    }
});
