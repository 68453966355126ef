//! [`TextSession`]: an editor's copy of one text, kept in step with the
//! document by exact changes, for an editor that knows nothing of CRDTs.
//!
//! An editor holds a plain buffer. It applies its user's edits at once and
//! sends them; the document meanwhile takes edits from elsewhere. Either
//! side may be ahead of the other when a message arrives, so a position in
//! a message must be read against the state its sender had. The session
//! keeps that state as CRDTs, so no operational transform is needed:
//!
//! - `client`: the text as the editor has it, as far as the session knows
//!   (every batch of changes up to the revision the editor last
//!   acknowledged, plus its own edits since). An edit from the editor is
//!   made here, in its coordinates, as a local edit; its operations then go
//!   to the document.
//! - `sent`: the text as the editor will have it once it applies
//!   everything sent. New operations of the document are integrated here
//!   ([`TextSession::pull`]), and the exact changes they make are what the
//!   editor is told, under a new revision number.
//!
//! The editor's side of the protocol (what `memo`'s editor RPC asks of a
//! client): it applies changes in the order they arrive and remembers the
//! last revision it applied; each edit it sends names that revision. While
//! an edit of its own is unanswered it sets arriving changes aside; the
//! answer to its latest edit ([`TextSession::reply`]) brings it to the
//! answer's revision, after which it drops what it set aside up to there
//! and applies the rest. Answers to earlier edits are superseded by the
//! latest one and ignored.
//!
//! Undo and redo ([`TextSession::undo`]) act on the session's own edits, a
//! request at a time, and reach the editor as changes like any other.

use super::{Anchor, Bias, TextChange, TextCrdt, TextError, TextOp};
use crate::id::{IdRange, LocalStamp};
use crate::version::VersionVector;
use std::collections::VecDeque;

/// One editor's view of one text (see the module docs).
#[derive(Clone, Debug)]
pub struct TextSession {
    /// The text as the editor has it, as far as the session knows.
    client: TextCrdt,
    /// The text once the editor has applied everything sent.
    sent: TextCrdt,
    /// Operations in `sent` but not in `client`, by the revision that
    /// carried them to the editor.
    unacked: VecDeque<(u64, Vec<TextOp>)>,
    /// The latest revision sent.
    rev: u64,
    /// The document's version at the last pull: its operations beyond it
    /// are new to `sent`, except the session's own.
    pulled: VersionVector,
    /// The units this session made since the last pull.
    own: Vec<IdRange>,
    /// The session's edits, a request each, for undo and redo.
    undo: Vec<Vec<IdRange>>,
    redo: Vec<Vec<IdRange>>,
}

/// Changes for the editor, and the revision it is at once they are applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sync {
    pub rev: u64,
    /// The editor's text that the changes apply to, for converting their
    /// positions to other units (empty when there are no changes).
    pub before: String,
    pub changes: Vec<TextChange>,
}

/// A request the session cannot take.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    #[error("revision {rev} was never sent (the latest is {latest})")]
    UnknownRevision { rev: u64, latest: u64 },
    #[error("edit {index}: range {start}..{end} is outside the text ({len} characters)")]
    OutOfRange { index: usize, start: usize, end: usize, len: usize },
    #[error(transparent)]
    Text(#[from] TextError),
}

/// One edit from the editor: replace characters `start..end` with `text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

impl TextSession {
    /// A session on `source`, a document whose host is at `version`; the
    /// editor starts at revision 0 with [`TextSession::text`].
    pub fn new(source: &TextCrdt, version: &VersionVector) -> TextSession {
        let client = source.forked();
        TextSession {
            sent: client.clone(),
            client,
            unacked: VecDeque::new(),
            rev: 0,
            pulled: version.clone(),
            own: Vec::new(),
            undo: Vec::new(),
            redo: Vec::new(),
        }
    }

    /// The latest revision sent.
    pub fn rev(&self) -> u64 {
        self.rev
    }

    /// The text once the editor has applied everything sent.
    pub fn text(&self) -> String {
        self.sent.text()
    }

    /// The text as the editor has it, as far as the session knows: what
    /// the positions of its edits refer to.
    pub fn client_text(&self) -> String {
        self.client.text()
    }

    /// Takes what `source` (at `version`) has that the editor was not sent:
    /// the changes to send, or `None` if no visible text changed.
    pub fn pull(&mut self, source: &TextCrdt, version: &VersionVector) -> Option<Sync> {
        let ops: Vec<TextOp> =
            source.ops_since(&self.pulled).into_iter().flat_map(|op| without(op, &self.own)).collect();
        self.pulled = version.clone();
        self.own.clear();
        if ops.is_empty() {
            return None;
        }
        let before = self.sent.text();
        let changes = integrate_all(&mut self.sent, &ops);
        self.rev += 1;
        self.unacked.push_back((self.rev, ops));
        (!changes.is_empty()).then(|| Sync { rev: self.rev, before, changes })
    }

    /// The editor has applied everything up to revision `rev`.
    pub fn acknowledge(&mut self, rev: u64) -> Result<(), SessionError> {
        if rev > self.rev {
            return Err(SessionError::UnknownRevision { rev, latest: self.rev });
        }
        while let Some((_, ops)) = self.unacked.front().filter(|(r, _)| *r <= rev) {
            let ops = ops.clone();
            integrate_all(&mut self.client, &ops);
            self.unacked.pop_front();
        }
        Ok(())
    }

    /// Checks `edits`, applied in order to the editor's text, against its
    /// length: each must fall inside the text the previous ones left.
    pub fn check(&self, edits: &[Edit]) -> Result<(), SessionError> {
        let mut len = self.client.len();
        for (index, edit) in edits.iter().enumerate() {
            if edit.start > edit.end || edit.end > len {
                return Err(SessionError::OutOfRange { index, start: edit.start, end: edit.end, len });
            }
            len = len - (edit.end - edit.start) + edit.text.chars().count();
        }
        Ok(())
    }

    /// Makes the editor's `edits` (in order, positions in its text),
    /// stamped from `at` on; returns the operations for the document, which
    /// must integrate them as its host's local edits. Nothing is made if
    /// any edit is out of range.
    pub fn edit(&mut self, at: &mut LocalStamp, edits: &[Edit]) -> Result<Vec<TextOp>, SessionError> {
        self.check(edits)?;
        let mut ops = Vec::new();
        for edit in edits {
            ops.extend(self.client.replace(at, edit.start, edit.end, &edit.text)?);
        }
        integrate_all(&mut self.sent, &ops);
        let ranges: Vec<IdRange> = ops.iter().map(TextOp::range).collect();
        self.own.extend(&ranges);
        if !ranges.is_empty() {
            self.undo.push(ranges);
            self.redo.clear();
        }
        Ok(ops)
    }

    /// Undoes the session's latest edit not undone (or, with `redo`,
    /// redoes the latest undone), stamped `at`: the operation for the
    /// document, or `None` when there is nothing to undo. The editor learns
    /// of it from [`TextSession::reply`].
    pub fn undo(&mut self, at: &mut LocalStamp, redo: bool) -> Option<TextOp> {
        let (from, to) = match redo {
            false => (&mut self.undo, &mut self.redo),
            true => (&mut self.redo, &mut self.undo),
        };
        let step = from.pop()?;
        let (op, _) = match redo {
            false => self.sent.undo(at, &step),
            true => self.sent.redo(at, &step),
        }
        .expect("the session's own edits are edits of its text");
        to.push(step);
        self.own.push(op.range());
        self.unacked.push_back((self.rev + 1, vec![op.clone()]));
        Some(op)
    }

    /// An anchor at `pos` of the editor's text (as
    /// [`TextSession::client_text`]): where its user's cursor is, say.
    pub fn anchor(&self, pos: usize, bias: Bias) -> Result<Anchor, TextError> {
        self.client.anchor(pos, bias)
    }

    /// Where `anchor` stands in the text the editor has once it has applied
    /// everything sent ([`TextSession::text`]); `None` if its character is
    /// not there yet.
    pub fn resolve(&self, anchor: &Anchor) -> Option<usize> {
        self.sent.resolve(anchor)
    }

    /// The answer to the editor's latest request: the changes from its
    /// text (its edits included) to everything sent, under a new revision
    /// if there are any.
    pub fn reply(&mut self) -> Sync {
        if self.unacked.is_empty() {
            return Sync { rev: self.rev, before: String::new(), changes: Vec::new() };
        }
        let mut scratch = self.client.clone();
        let before = scratch.text();
        let ops: Vec<TextOp> = self.unacked.iter().flat_map(|(_, ops)| ops.iter().cloned()).collect();
        let changes = integrate_all(&mut scratch, &ops);
        self.rev += 1;
        Sync { rev: self.rev, before, changes }
    }
}

/// Integrates `ops` (causally ready, in order) and returns their changes.
fn integrate_all(crdt: &mut TextCrdt, ops: &[TextOp]) -> Vec<TextChange> {
    let mut changes = Vec::new();
    for op in ops {
        crdt.integrate(op.clone(), &mut changes).expect("a session's operations come from its document, in order");
    }
    changes
}

/// The pieces of `op` outside the units in `own`.
fn without(op: TextOp, own: &[IdRange]) -> Vec<TextOp> {
    let range = op.range();
    let mut cuts: Vec<(u64, u64)> = own
        .iter()
        .filter(|o| o.replica == range.replica && o.seq < range.end() && o.end() > range.seq)
        .map(|o| (o.seq.max(range.seq) - range.seq, o.end().min(range.end()) - range.seq))
        .collect();
    if cuts.is_empty() {
        return vec![op];
    }
    cuts.sort_unstable();
    let mut pieces = Vec::new();
    let mut from = 0;
    for (start, end) in cuts.into_iter().chain([(range.len, range.len)]) {
        if start > from {
            let mut piece = op.clone();
            piece.truncate(start);
            piece.trim_front(from);
            pieces.push(piece);
        }
        from = from.max(end);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::ReplicaId;
    use crate::text::TextDoc;

    fn edit(start: usize, end: usize, text: &str) -> Edit {
        Edit { start, end, text: text.into() }
    }

    /// An editor following the protocol of the module docs.
    #[derive(Default)]
    struct Editor {
        text: String,
        rev: u64,
        waiting: usize,
        aside: Vec<Sync>,
    }

    impl Editor {
        fn apply(&mut self, changes: &[TextChange]) {
            for c in changes {
                let byte = |pos| crate::text::offsets::char_to_utf8(&self.text, pos).unwrap();
                let (start, end) = (byte(c.pos), byte(c.pos + c.delete));
                self.text.replace_range(start..end, &c.insert);
            }
        }

        fn notified(&mut self, sync: Sync) {
            match self.waiting {
                0 => {
                    self.apply(&sync.changes);
                    self.rev = sync.rev;
                }
                _ => self.aside.push(sync),
            }
        }

        fn answered(&mut self, sync: Sync) {
            self.waiting -= 1;
            if self.waiting > 0 {
                return;
            }
            self.apply(&sync.changes);
            self.rev = sync.rev;
            for later in std::mem::take(&mut self.aside).into_iter().filter(|s| s.rev > sync.rev) {
                self.apply(&later.changes);
                self.rev = later.rev;
            }
        }
    }

    /// A document with a host (a `TextDoc` stands in for the working tree).
    struct Host {
        doc: TextDoc,
    }

    impl Host {
        fn stamp(&self) -> LocalStamp {
            let seq = self.doc.version().get(self.doc.replica());
            LocalStamp { replica: self.doc.replica(), seq, lamport: self.doc.clock() }
        }

        fn take(&mut self, ops: Vec<TextOp>) {
            for op in ops {
                self.doc.apply(op).unwrap();
            }
        }
    }

    #[test]
    fn an_editor_and_a_remote_writer_typing_at_once_converge() {
        let me = ReplicaId::from_u128(1);
        let mut host = Host { doc: TextDoc::new(me) };
        let mut other = TextDoc::new(ReplicaId::from_u128(2));
        let op = other.insert(0, "hello world").unwrap();
        host.take(vec![op]);
        let mut session = TextSession::new(host.doc.crdt(), host.doc.version());
        let mut editor = Editor { text: session.text(), ..Editor::default() };

        // The editor types "A" at 5 (rev 0) while the other writer's "B" at
        // 0 has been sent to it (rev 1) but not yet applied.
        let op = other.insert(0, "B").unwrap();
        host.take(vec![op]);
        let note = session.pull(host.doc.crdt(), host.doc.version()).unwrap();
        editor.apply(&[TextChange { pos: 5, delete: 0, insert: "A".into() }]);
        editor.waiting += 1;
        editor.notified(note);
        // A second keystroke before the first is answered.
        editor.apply(&[TextChange { pos: 6, delete: 0, insert: "!".into() }]);
        editor.waiting += 1;

        for edits in [vec![edit(5, 5, "A")], vec![edit(6, 6, "!")]] {
            session.acknowledge(editor.rev).unwrap();
            let mut at = host.stamp();
            let ops = session.edit(&mut at, &edits).unwrap();
            host.take(ops);
            let answer = session.reply();
            editor.answered(answer);
        }
        assert_eq!(editor.text, "BhelloA! world");
        assert_eq!(host.doc.text(), editor.text);

        // Later remote edits arrive exact; the editor's own never come back.
        assert_eq!(session.pull(host.doc.crdt(), host.doc.version()), None);
        let op = other.delete(0, 1).unwrap().unwrap();
        host.take(vec![op]);
        let note = session.pull(host.doc.crdt(), host.doc.version()).unwrap();
        assert_eq!(note.changes, vec![TextChange { pos: 0, delete: 1, insert: "".into() }]);
        editor.notified(note);
        assert_eq!(editor.text, "helloA! world".to_string());
    }

    #[test]
    fn undo_and_redo_reach_the_editor_as_changes() {
        let mut host = Host { doc: TextDoc::new(ReplicaId::from_u128(1)) };
        let mut session = TextSession::new(host.doc.crdt(), host.doc.version());
        let mut editor = Editor::default();
        editor.apply(&[TextChange { pos: 0, delete: 0, insert: "abc".into() }]);
        let mut at = host.stamp();
        host.take(session.edit(&mut at, &[edit(0, 0, "abc")]).unwrap());
        assert_eq!(session.reply().changes, vec![]);
        for (redo, expected) in [(false, ""), (true, "abc")] {
            session.acknowledge(editor.rev).unwrap();
            let mut at = host.stamp();
            host.take(session.undo(&mut at, redo).into_iter().collect());
            editor.waiting += 1;
            editor.answered(session.reply());
            assert_eq!((editor.text.as_str(), host.doc.text().as_str()), (expected, expected));
        }
        assert_eq!(session.undo(&mut host.stamp(), true), None, "nothing left to redo");
    }

    /// What travels between the session and the editor.
    enum Message {
        Changed(Sync),
        Answer(Sync),
    }

    /// A random edit of `text` (chars): an insert, a delete or a replace.
    fn random_edit(rng: &mut impl rand::Rng, len: usize) -> Edit {
        let start = rng.gen_range(0..=len);
        let end = (start + rng.gen_range(0..3)).min(len);
        let text = ["x", "é", "𝄞", "", "yz"][rng.gen_range(0..5)];
        match start == end && text.is_empty() {
            true => edit(start, start, "q"),
            false => edit(start, end, text),
        }
    }

    /// The session's answer to an editor's request: an edit, or an undo
    /// (a redo if `redo`), made at revision `rev`.
    fn serve(session: &mut TextSession, host: &mut Host, (rev, edit, redo): (u64, Option<Edit>, bool)) -> Message {
        session.acknowledge(rev).unwrap();
        let mut at = host.stamp();
        let ops = match edit {
            Some(edit) => session.edit(&mut at, &[edit]).unwrap(),
            None => session.undo(&mut at, redo).into_iter().collect(),
        };
        host.take(ops);
        Message::Answer(session.reply())
    }

    /// An editor typing (several edits in flight), undoing and redoing
    /// while a remote writer edits the same text, messages delivered at
    /// random moments: in the end the editor's text is the document's.
    #[test]
    fn seeded_editor_and_remote_writer_converge() {
        use rand::{rngs::SmallRng, Rng, SeedableRng};
        /// Names the seed of a failing run.
        struct Seed(u64);
        impl Drop for Seed {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    eprintln!("failing seed: {}", self.0);
                }
            }
        }
        for seed in 0..200 {
            let _seed = Seed(seed);
            let mut rng = SmallRng::seed_from_u64(seed);
            let mut host = Host { doc: TextDoc::new(ReplicaId::from_u128(1)) };
            let mut other = TextDoc::new(ReplicaId::from_u128(2));
            let mut session = TextSession::new(host.doc.crdt(), host.doc.version());
            let mut editor = Editor::default();
            let (mut requests, mut messages) = (VecDeque::new(), VecDeque::new());
            let mut seen_by_other = VersionVector::new();
            for _ in 0..300 {
                match rng.gen_range(0..10) {
                    0..=2 => {
                        let change = random_edit(&mut rng, editor.text.chars().count());
                        let (pos, delete) = (change.start, change.end - change.start);
                        editor.apply(&[TextChange { pos, delete, insert: change.text.as_str().into() }]);
                        editor.waiting += 1;
                        requests.push_back((editor.rev, Some(change), false));
                    }
                    3 => {
                        editor.waiting += 1;
                        requests.push_back((editor.rev, None, rng.gen()));
                    }
                    4..=5 => {
                        if let Some(request) = requests.pop_front() {
                            messages.push_back(serve(&mut session, &mut host, request));
                        }
                    }
                    6..=7 => {
                        let change = random_edit(&mut rng, other.len());
                        other.replace(change.start, change.end, &change.text).unwrap();
                        host.take(other.ops_since(host.doc.version()));
                        messages.extend(session.pull(host.doc.crdt(), host.doc.version()).map(Message::Changed));
                    }
                    8 => {
                        for op in host.doc.ops_since(&seen_by_other) {
                            other.apply(op).unwrap();
                        }
                        seen_by_other = host.doc.version().clone();
                    }
                    _ => match messages.pop_front() {
                        Some(Message::Changed(sync)) => editor.notified(sync),
                        Some(Message::Answer(sync)) => editor.answered(sync),
                        None => {}
                    },
                }
            }
            while let Some(request) = requests.pop_front() {
                messages.push_back(serve(&mut session, &mut host, request));
            }
            while let Some(message) = messages.pop_front() {
                match message {
                    Message::Changed(sync) => editor.notified(sync),
                    Message::Answer(sync) => editor.answered(sync),
                }
            }
            assert_eq!(editor.text, host.doc.text(), "seed {seed}");
            assert_eq!(session.text(), host.doc.text(), "seed {seed}");
        }
    }

    #[test]
    fn out_of_range_edits_make_nothing() {
        let doc = TextDoc::new(ReplicaId::from_u128(1));
        let mut session = TextSession::new(doc.crdt(), doc.version());
        let mut at = LocalStamp { replica: doc.replica(), seq: 0, lamport: 0 };
        let error = session.edit(&mut at, &[edit(0, 0, "ab"), edit(1, 3, "")]).unwrap_err();
        assert_eq!(error, SessionError::OutOfRange { index: 1, start: 1, end: 3, len: 2 });
        assert_eq!((session.text(), at.seq), (String::new(), 0));
        assert!(matches!(session.acknowledge(1), Err(SessionError::UnknownRevision { rev: 1, latest: 0 })));
    }

    #[test]
    fn pieces_outside_own_units_are_kept() {
        let mut doc = TextDoc::new(ReplicaId::from_u128(1));
        let op = doc.insert(0, "abcdef").unwrap();
        let own = [IdRange::new(op.id.replica, 1, 2), IdRange::new(op.id.replica, 4, 1)];
        let pieces = without(op, &own);
        let texts: Vec<_> = pieces
            .iter()
            .map(|p| match &p.kind {
                crate::text::TextOpKind::Insert { text, .. } => (p.id.seq, text.to_string()),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(texts, vec![(0, "a".to_string()), (3, "d".to_string()), (5, "f".to_string())]);
    }
}
