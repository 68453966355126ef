//! Editors on text files: sessions ([`TextSession`]) and anchors, bound to
//! a file's identity, so that they follow it through renames and moves.

use super::entry::Kind;
use super::ids::EntryId;
use super::local::TreeError;
use super::op::{InvalidTreeOp, TreeOp};
use super::WorkTree;
use crate::id::LocalStamp;
use crate::text::{Anchor, Bias, SessionError, Sync, TextCrdt, TextOp, TextSession};

impl WorkTree {
    /// The text file at `path`, read from the base if it was not yet.
    pub fn text_file(&mut self, path: &str) -> Result<EntryId, TreeError> {
        let file = self.entry_at(path).ok_or_else(|| TreeError::NotFound(path.into()))?;
        match self.text_crdt(file) {
            Ok(_) => Ok(file),
            Err(InvalidTreeOp::NotAText(_)) => Err(TreeError::NotAText(path.into())),
            Err(other) => Err(other.into()),
        }
    }

    /// The CRDT of text file `file`, if it is one and was read.
    fn text_of(&self, file: EntryId) -> Option<&TextCrdt> {
        match self.entries.get(&file).map(|e| &e.kind) {
            Some(Kind::Text { text, .. }) => Some(text),
            _ => None,
        }
    }

    /// Opens an editor's session on the text file at `path`.
    pub fn open_session(&mut self, path: &str) -> Result<(EntryId, TextSession), TreeError> {
        let file = self.text_file(path)?;
        let session = TextSession::new(self.text_of(file).expect("read above"), &self.version);
        Ok((file, session))
    }

    /// What `session` (on `file`) has not sent its editor yet
    /// ([`TextSession::pull`]).
    pub fn pull_session(&self, file: EntryId, session: &mut TextSession) -> Option<Sync> {
        session.pull(self.text_of(file)?, &self.version)
    }

    /// A local change of `file` made by `session`: `make` gets the stamp
    /// and returns the session's operations (from [`TextSession::edit`] or
    /// [`TextSession::undo`]), which the file integrates and this replica
    /// records and returns, as for [`WorkTree::edit_text`].
    pub fn session_change(
        &mut self,
        file: EntryId,
        make: impl FnOnce(&mut LocalStamp) -> Result<Vec<TextOp>, SessionError>,
    ) -> Result<Vec<TreeOp>, TreeError> {
        self.edit(file, |crdt, stamp| {
            let ops = make(stamp)?;
            for op in &ops {
                crdt.integrate(op.clone(), &mut Vec::new()).expect("a session's operations fit its file");
            }
            Ok::<_, SessionError>(ops)
        })
    }

    /// An anchor at character `pos` of the text file at `path` (see
    /// [`Anchor`]): the file and the anchor in it.
    pub fn anchor(&mut self, path: &str, pos: usize, bias: Bias) -> Result<(EntryId, Anchor), TreeError> {
        let file = self.text_file(path)?;
        Ok((file, self.text_of(file).expect("read above").anchor(pos, bias)?))
    }

    /// Where an anchor of `file` stands now: the file's path and the
    /// character position; `None` if the file is not shown, or the anchor
    /// names a character unknown here.
    pub fn resolve(&self, file: EntryId, anchor: &Anchor) -> Option<(String, usize)> {
        let pos = self.text_of(file)?.resolve(anchor)?;
        Some((self.path_of(file)?, pos))
    }
}
