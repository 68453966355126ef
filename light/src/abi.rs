//! The JavaScript binding: a hand-written ABI over byte buffers, for
//! `light/js/memo-light.mjs` (Node's or a browser's built-in `WebAssembly`,
//! no npm package and no generated glue).
//!
//! Why not wasm-bindgen: its generated JavaScript needs `wasm-bindgen-cli`
//! at exactly the crate's version, and `cargo install wasm-bindgen-cli`
//! (0.2.130) took 5 min 33 s on a 2-core machine beside another build
//! (263 CPU-seconds, 160 crates): more than this whole binding is worth in
//! every CI run.
//!
//! Unsafe code is allowed in this module alone (the crate denies it): the
//! host hands its arguments over as pointers into the module's memory,
//! which only `unsafe` can turn into slices, and the exports must keep
//! their names (`#[no_mangle]`). Everything else is safe Rust: each export
//! turns its pointers into slices and calls a safe function of the crate.
//!
//! The calling convention:
//! - the host copies each argument into memory from `light_alloc(len)` and
//!   gives it back with `light_free(ptr, len)` after the call; strings are
//!   UTF-8, offsets UTF-16 code units (JavaScript's);
//! - each call returns a number: `-1` for an error, whose message (UTF-8)
//!   is then the result; otherwise a handle (`light_new`), a count or 0;
//! - a call's result bytes (text, a bundle, JSON) stay at
//!   `light_result_ptr()` for `light_result_len()` bytes until the next
//!   call: copy them out first;
//! - a replica is named by the handle `light_new` returned, until
//!   `light_drop`.
//!
//! The module is single-threaded, as WebAssembly instances are: the state
//! lives in thread-locals.
#![allow(unsafe_code)]

use crate::{Applied, BaseFile, Encoding, LightError, LightReplica};
use memo_core::ReplicaId;
use std::alloc::{alloc, dealloc, Layout};
use std::cell::RefCell;

thread_local! {
    static REPLICAS: RefCell<Vec<Option<LightReplica>>> = const { RefCell::new(Vec::new()) };
    static RESULT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// `len` bytes of memory for the host to fill (never null: a zero length
/// gets one byte).
#[no_mangle]
pub extern "C" fn light_alloc(len: usize) -> *mut u8 {
    let layout = Layout::array::<u8>(len.max(1)).expect("a length that fits in memory");
    // SAFETY: the layout's size is at least 1.
    unsafe { alloc(layout) }
}

/// Gives back memory from [`light_alloc`].
///
/// # Safety
/// `ptr` came from `light_alloc(len)` with this `len` and is not used after.
#[no_mangle]
pub unsafe extern "C" fn light_free(ptr: *mut u8, len: usize) {
    // SAFETY: the caller's promise: allocated with this very layout.
    unsafe { dealloc(ptr, Layout::array::<u8>(len.max(1)).expect("as allocated")) }
}

/// Where the last call's result starts.
#[no_mangle]
pub extern "C" fn light_result_ptr() -> *const u8 {
    RESULT.with(|r| r.borrow().as_ptr())
}

/// How long the last call's result is.
#[no_mangle]
pub extern "C" fn light_result_len() -> usize {
    RESULT.with(|r| r.borrow().len())
}

/// The bytes the host put at `ptr`.
///
/// # Safety
/// `ptr..ptr + len` is memory from [`light_alloc`] the host filled, not
/// freed before the call returns.
unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    match len {
        0 => &[],
        // SAFETY: the caller's promise.
        _ => unsafe { std::slice::from_raw_parts(ptr, len) },
    }
}

/// Sets the result and turns an outcome into the number a call returns.
fn finish(outcome: Result<(i32, Vec<u8>), String>) -> i32 {
    let (code, result) = match outcome {
        Ok(ok) => ok,
        Err(message) => (-1, message.into_bytes()),
    };
    RESULT.with(|r| *r.borrow_mut() = result);
    code
}

/// Runs `f` on replica `handle`.
fn with_replica(
    handle: i32,
    f: impl FnOnce(&mut LightReplica) -> Result<(i32, Vec<u8>), LightError>,
) -> Result<(i32, Vec<u8>), String> {
    REPLICAS.with(|replicas| {
        let mut replicas = replicas.borrow_mut();
        let slot = usize::try_from(handle).ok().and_then(|h| replicas.get_mut(h)).and_then(Option::as_mut);
        let replica = slot.ok_or_else(|| format!("no replica {handle} (dropped, or never made)"))?;
        f(replica).map_err(|e| e.to_string())
    })
}

fn text(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes).map_err(|_| "a string that is not UTF-8".to_string())
}

/// A new replica of the working copy `ticket` names, as replica id
/// `replica` (16 random bytes the host drew), standing on the base files
/// encoded as [`decode_base`] reads them (none: no base). Returns its
/// handle.
///
/// # Safety
/// Each pointer and length is a buffer from [`light_alloc`].
#[no_mangle]
pub unsafe extern "C" fn light_new(
    ticket: *const u8,
    ticket_len: usize,
    replica: *const u8,
    replica_len: usize,
    base: *const u8,
    base_len: usize,
) -> i32 {
    // SAFETY: the caller's promise, for each buffer.
    let (ticket, replica, base) =
        unsafe { (bytes(ticket, ticket_len), bytes(replica, replica_len), bytes(base, base_len)) };
    finish(new_replica(ticket, replica, base))
}

fn new_replica(ticket: &[u8], replica: &[u8], base: &[u8]) -> Result<(i32, Vec<u8>), String> {
    let replica = replica.try_into().map_err(|_| format!("a replica id is 16 random bytes, not {}", replica.len()))?;
    let replica = ReplicaId::from_random_bytes(replica);
    let base = decode_base(base)?;
    let light = LightReplica::from_ticket(text(ticket)?, replica, base).map_err(|e| e.to_string())?;
    REPLICAS.with(|replicas| {
        let mut replicas = replicas.borrow_mut();
        let handle = match replicas.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                replicas.push(None);
                replicas.len() - 1
            }
        };
        replicas[handle] = Some(light);
        Ok((i32::try_from(handle).map_err(|_| "too many replicas")?, Vec::new()))
    })
}

/// Forgets replica `handle`.
#[no_mangle]
pub extern "C" fn light_drop(handle: i32) -> i32 {
    let dropped = REPLICAS.with(|replicas| {
        let mut replicas = replicas.borrow_mut();
        usize::try_from(handle).ok().and_then(|h| replicas.get_mut(h)).and_then(Option::take).is_some()
    });
    finish(if dropped { Ok((0, Vec::new())) } else { Err(format!("no replica {handle}")) })
}

/// [`LightReplica::open`]: the result is the text.
///
/// # Safety
/// `path..path + path_len` is a buffer from [`light_alloc`].
#[no_mangle]
pub unsafe extern "C" fn light_open(handle: i32, path: *const u8, path_len: usize) -> i32 {
    // SAFETY: the caller's promise.
    let path = unsafe { bytes(path, path_len) };
    finish(text(path).and_then(|path| with_replica(handle, |r| Ok((0, r.open(path)?.into_bytes())))))
}

/// [`LightReplica::read`]: the result is the text.
///
/// # Safety
/// `path..path + path_len` is a buffer from [`light_alloc`].
#[no_mangle]
pub unsafe extern "C" fn light_read(handle: i32, path: *const u8, path_len: usize) -> i32 {
    // SAFETY: the caller's promise.
    let path = unsafe { bytes(path, path_len) };
    finish(text(path).and_then(|path| with_replica(handle, |r| Ok((0, r.read(path)?.into_bytes())))))
}

/// [`LightReplica::list`]: the result is a JSON array of paths.
#[no_mangle]
pub extern "C" fn light_list(handle: i32) -> i32 {
    finish(with_replica(handle, |r| Ok((0, json_strings(&r.list()).into_bytes()))))
}

/// [`LightReplica::edit_in`] with UTF-16 offsets.
///
/// # Safety
/// Each pointer and length is a buffer from [`light_alloc`].
#[no_mangle]
pub unsafe extern "C" fn light_edit(
    handle: i32,
    path: *const u8,
    path_len: usize,
    from: u32,
    to: u32,
    new_text: *const u8,
    new_text_len: usize,
) -> i32 {
    // SAFETY: the caller's promise, for each buffer.
    let (path, new_text) = unsafe { (bytes(path, path_len), bytes(new_text, new_text_len)) };
    finish(text(path).and_then(|path| {
        let new_text = text(new_text)?;
        with_replica(handle, |r| {
            r.edit_in(path, from as usize, to as usize, new_text, Encoding::Utf16)?;
            Ok((0, Vec::new()))
        })
    }))
}

/// [`LightReplica::apply_bundle`]: the result is the report as JSON
/// (`operations`, `known`, `applied`, `refused`, `waiting`).
///
/// # Safety
/// `bundle..bundle + len` is a buffer from [`light_alloc`].
#[no_mangle]
pub unsafe extern "C" fn light_apply_bundle(handle: i32, bundle: *const u8, len: usize) -> i32 {
    // SAFETY: the caller's promise.
    let bundle = unsafe { bytes(bundle, len) };
    finish(with_replica(handle, |r| Ok((0, applied_json(&r.apply_bundle(bundle)?).into_bytes()))))
}

/// [`LightReplica::take_bundle`]: the result is the bundle.
#[no_mangle]
pub extern "C" fn light_take_bundle(handle: i32) -> i32 {
    finish(with_replica(handle, |r| Ok((0, r.take_bundle()))))
}

/// [`LightReplica::take_bundle_since`]: the result is the bundle.
///
/// # Safety
/// `version..version + len` is a buffer from [`light_alloc`].
#[no_mangle]
pub unsafe extern "C" fn light_take_bundle_since(handle: i32, version: *const u8, len: usize) -> i32 {
    // SAFETY: the caller's promise.
    let version = unsafe { bytes(version, len) };
    finish(with_replica(handle, |r| Ok((0, r.take_bundle_since(version)?))))
}

/// [`LightReplica::version_bytes`]: the result is the version.
#[no_mangle]
pub extern "C" fn light_version(handle: i32) -> i32 {
    finish(with_replica(handle, |r| Ok((0, r.version_bytes()))))
}

/// Reads base files as the host writes them: for each file, its path, its
/// blob id (Git's object id; empty: derived from the content) and its
/// content, each as a 4-byte little-endian length and that many bytes.
pub fn decode_base(mut bytes: &[u8]) -> Result<Vec<BaseFile>, String> {
    fn take(bytes: &mut &[u8]) -> Result<Vec<u8>, String> {
        let short = || "base files: cut short".to_string();
        let (len, rest) = bytes.split_first_chunk::<4>().ok_or_else(short)?;
        let len = u32::from_le_bytes(*len) as usize;
        let (field, rest) = rest.split_at_checked(len).ok_or_else(short)?;
        *bytes = rest;
        Ok(field.to_vec())
    }
    let mut files = Vec::new();
    while !bytes.is_empty() {
        let path = String::from_utf8(take(&mut bytes)?).map_err(|_| "base files: a path that is not UTF-8")?;
        let blob = Some(take(&mut bytes)?).filter(|blob| !blob.is_empty());
        files.push(BaseFile { path, blob, content: take(&mut bytes)? });
    }
    Ok(files)
}

/// A JSON array of strings.
pub fn json_strings(strings: &[String]) -> String {
    let items: Vec<String> = strings.iter().map(|s| json_string(s)).collect();
    format!("[{}]", items.join(","))
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn applied_json(a: &Applied) -> String {
    format!(
        r#"{{"operations":{},"known":{},"applied":{},"refused":{},"waiting":{}}}"#,
        a.operations, a.known, a.applied, a.refused, a.waiting
    )
}
