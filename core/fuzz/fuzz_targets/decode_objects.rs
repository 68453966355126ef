//! Bytes from a peer, decoded as a Git objects request and as a response:
//! never a panic, what decodes keeps within the bounds and re-encodes to
//! the same message, in no more bytes (postcard reads overlong varints, so
//! the bytes themselves may differ).
#![no_main]

use libfuzzer_sys::fuzz_target;
use memo_core::protocol::objects::{Request, Response, MAX_COMMITS, MAX_PACK};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(request) = Request::decode(bytes) {
        assert!(request.want.len() <= MAX_COMMITS && request.have.len() <= MAX_COMMITS);
        assert!(request.want.iter().chain(&request.have).all(|id| matches!(id.len(), 20 | 32)));
        assert!(request.check().is_ok());
        let encoded = request.encode();
        assert_eq!(Request::decode(&encoded).as_ref(), Ok(&request));
        assert!(encoded.len() <= bytes.len());
    }
    if let Ok(response) = Response::decode(bytes) {
        if let Response::Pack(pack) = &response {
            assert!(pack.len() <= MAX_PACK);
        }
        let encoded = response.encode();
        assert_eq!(Response::decode(&encoded).as_ref(), Ok(&response));
        assert!(encoded.len() <= bytes.len());
    }
});
