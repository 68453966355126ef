//! # memo-core
//!
//! Memo replicates a Git working copy, uncommitted edits included, between
//! machines in real time. This crate holds every rule of that replication
//! as pure state machines: no I/O, no clocks, no threads (it builds for
//! `wasm32-unknown-unknown`). The node (`memo-node`) runs the loop around
//! it: network, disk, file watcher.
//!
//! ## The data model in a screenful
//!
//! - A **replica** is one copy of a document, named by a [`ReplicaId`]
//!   (a UUID v4).
//! - Each replica numbers its units of work with a contiguous **sequence**
//!   from 0: every inserted character is one unit, every deleted character
//!   one, every undo one. An [`OpId`] (replica, seq) names one unit.
//!   *Invariant: a (replica, seq) pair is never reused.*
//! - An **operation** ([`TextOp`]) covers a run of consecutive units of its
//!   author, e.g. a word typed in one go. It carries a **Lamport** stamp,
//!   greater than every stamp its author had seen.
//! - A [`VersionVector`] says, per replica, how many units have been
//!   applied. Because sequences are contiguous and applied in order, it
//!   names exactly a set of operations: a version.
//! - Operations may arrive reordered, duplicated or late. One that is not
//!   causally ready (its author's earlier units, or a character it refers
//!   to, not yet applied) waits in a bounded buffer ([`causal`]) and
//!   applies as soon as it can. *Invariant: replicas that applied the same
//!   set of operations show the same state, whatever the order.*
//! - The **text CRDT** ([`TextCrdt`]) gives every character an identity and
//!   a place among all characters ever inserted; deletes hide characters
//!   by id (so text inserted concurrently inside a deleted range survives),
//!   concurrent inserts at one place never interleave (FugueMax), and undo
//!   is an operation too. It keeps no causal context: its host stamps its
//!   local edits ([`LocalStamp`]) and decides when a remote operation is
//!   ready. [`TextDoc`] is that host for a single document; a working tree
//!   hosts one `TextCrdt` per file, all numbered from one sequence.
//! - The **working-tree CRDT** ([`WorkTree`]) replicates a whole working
//!   copy: entries with identities that survive renames, moves ordered by
//!   Lamport stamp so that no cycle ever forms, deletes that remove only
//!   what their author saw, and a deterministic view with unique names. It
//!   starts from a base snapshot (a Git commit) whose content every replica
//!   has, so it is never sent. All its operations ([`TreeOp`]), text edits
//!   included, share one sequence per replica and one version vector.
//!
//! ```
//! use memo_core::{ReplicaId, TextDoc};
//! let mut alice = TextDoc::new(ReplicaId::from_u128(1));
//! let mut bob = TextDoc::new(ReplicaId::from_u128(2));
//! let op = alice.insert(0, "Hello").unwrap();
//! bob.apply(op).unwrap();
//! // Concurrent edits...
//! let a = alice.insert(5, ", world").unwrap();
//! let b = bob.delete(0, 1).unwrap().unwrap();
//! // ...delivered in either order, converge.
//! let changes = alice.apply(b).unwrap();
//! assert_eq!(changes[0].pos, 0); // the exact edit, for an editor
//! bob.apply(a).unwrap();
//! assert_eq!(alice.text(), "ello, world");
//! assert_eq!(bob.text(), alice.text());
//! ```
//!
//! ## Modules
//! - [`id`]: replica ids, operation ids, Lamport stamps.
//! - [`version`]: version vectors.
//! - [`causal`]: the bounded buffer of operations waiting for dependencies.
//! - [`text`]: the text CRDT ([`TextCrdt`]) and the single-document replica
//!   that hosts it ([`TextDoc`]); anchors, history, undo, offset conversions.
//! - [`tree`]: the working-tree CRDT, its base snapshot, views and history.
//! - [`encoding`]: the compact binary encoding of operations and histories;
//!   [`hex`]: bytes as Memo prints them.
//! - [`ticket`]: the pasteable string that carries a working copy's
//!   membership from one machine to another.
//! - [`protocol`]: the messages nodes exchange besides operations (catch-up),
//!   with their encodings and bounds.

pub mod causal;
pub mod encoding;
pub mod hex;
pub mod id;
pub mod protocol;
mod replicas;
mod runs;
pub mod text;
pub mod ticket;
pub mod tree;
pub mod version;

pub use causal::{BufferFull, Waiting};
pub use encoding::DecodeError;
pub use id::{IdRange, Lamport, LocalStamp, OpId, ReplicaId, Seq};
pub use text::{Anchor, ApplyError, Bias, HistoryError, TextChange, TextCrdt, TextDoc, TextError, TextOp, TextOpKind};
pub use tree::{TreeOp, WorkTree};
pub use version::VersionVector;
