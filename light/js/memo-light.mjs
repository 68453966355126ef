// Memo's light client for JavaScript: memo-light's WebAssembly module
// (cargo build -p memo-light --target wasm32-unknown-unknown) behind a
// class, through the module's hand-written ABI (light/src/abi.rs). No npm
// package: WebAssembly, TextEncoder and Web Crypto are built into Node.js
// (18 and later) and browsers.
//
//   const light = await loadLight(wasmBytes);
//   const replica = light.replica(ticket);            // a ticket from `memo share`
//   replica.applyBundle(bytes);                       // from `memo bundle export`
//   replica.edit("notes.txt", 0, 0, "hi ");           // offsets in UTF-16 units
//   const answer = replica.takeBundle();              // for `memo bundle import`

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Loads the module from its bytes (a Buffer, ArrayBuffer or typed array). */
export async function loadLight(wasmBytes) {
  // Node.js 18 (Debian's) has Web Crypto only as a module, not a global.
  const random = globalThis.crypto ?? (await import("node:crypto")).webcrypto;
  const { instance } = await WebAssembly.instantiate(wasmBytes, {});
  return new Light(instance.exports, random);
}

class Light {
  constructor(exports, random) {
    this.x = exports;
    this.random = random;
  }

  /**
   * A new replica of the working copy `ticket` names. `base` lists the
   * files of the commit it stands on: [{path, content, blob?}] (content a
   * string or bytes; blob, Git's object id as bytes, or left out to derive
   * one from the content).
   */
  replica(ticket, base = []) {
    const replicaId = this.random.getRandomValues(new Uint8Array(16));
    const [handle] = this.call("light_new", [ticket, replicaId, encodeBase(base)]);
    return new LightReplica(this, handle);
  }

  /**
   * Calls export `name` with `args`: each string or byte array is copied
   * into the module's memory (as a pointer and a length), numbers pass
   * as they are. Returns [code, result bytes]; throws on an error.
   */
  call(name, args) {
    const x = this.x;
    const buffers = [];
    const flat = [];
    try {
      for (const arg of args) {
        if (typeof arg === "number") {
          flat.push(arg);
          continue;
        }
        const bytes = typeof arg === "string" ? encoder.encode(arg) : arg;
        const ptr = x.light_alloc(bytes.length);
        buffers.push([ptr, bytes.length]);
        // Memory may have grown: take a fresh view each time.
        new Uint8Array(x.memory.buffer, ptr, bytes.length).set(bytes);
        flat.push(ptr, bytes.length);
      }
      const code = x[name](...flat);
      const result = new Uint8Array(x.memory.buffer, x.light_result_ptr(), x.light_result_len()).slice();
      if (code < 0) {
        throw new Error(`memo-light: ${decoder.decode(result)}`);
      }
      return [code, result];
    } finally {
      for (const [ptr, len] of buffers) {
        x.light_free(ptr, len);
      }
    }
  }
}

/** One replica: a virtual file system of text files. */
export class LightReplica {
  constructor(light, handle) {
    this.light = light;
    this.handle = handle;
  }

  #call(name, ...args) {
    return this.light.call(name, [this.handle, ...args])[1];
  }

  /** The text of the file at `path`, made empty if it is missing. */
  open(path) {
    return decoder.decode(this.#call("light_open", path));
  }

  /** The text of the file at `path`. */
  read(path) {
    return decoder.decode(this.#call("light_read", path));
  }

  /** Every path, directories included, sorted. */
  list() {
    return JSON.parse(decoder.decode(this.#call("light_list")));
  }

  /** Replaces `from..to` (UTF-16 units) of `path` with `text`; a missing file is made. */
  edit(path, from, to, text) {
    this.#call("light_edit", path, from, to, text);
  }

  /** Takes a bundle; returns {operations, known, applied, refused, waiting}. */
  applyBundle(bytes) {
    return JSON.parse(decoder.decode(this.#call("light_apply_bundle", bytes)));
  }

  /** A bundle of what the other side lacks (see LightReplica::take_bundle). */
  takeBundle() {
    return this.#call("light_take_bundle");
  }

  /** A bundle of what `version` (from version()) lacks; empty: everything. */
  takeBundleSince(version) {
    return this.#call("light_take_bundle_since", version);
  }

  /** The operations applied here, as opaque bytes. */
  version() {
    return this.#call("light_version");
  }

  /** Forgets the replica. */
  drop() {
    this.light.call("light_drop", [this.handle]);
  }
}

function encodeBase(files) {
  const parts = [];
  const field = (bytes) => {
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, bytes.length, true);
    parts.push(len, bytes);
  };
  for (const { path, content, blob } of files) {
    field(encoder.encode(path));
    field(blob ?? new Uint8Array(0));
    field(typeof content === "string" ? encoder.encode(content) : content);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
