//! Git objects over libp2p: the request-response protocol by which a node
//! gets the Git commits it lacks from a peer, with their trees and blobs,
//! as a Git pack.
//!
//! The requester names the commits it wants and the commits it has (its
//! HEAD and branch tips: [`haves`]); the peer answers with a pack of every
//! object reachable from the wanted commits but not from the ones it knows
//! the requester has ([`pack`]), or [`Response::Missing`] when it does not
//! hold every wanted commit. The requester writes the pack into its object
//! database and checks that the wanted commits arrived whole ([`unpack`]).
//!
//! The messages, their encoding and their bounds are
//! [`memo_core::protocol::objects`]'s; this module frames them on a stream
//! ([`Codec`]) and builds and takes packs with Git. On the wire
//! ([`crate::frames`]): a big-endian `u32` length, then the message. A frame
//! over [`MAX_REQUEST`] (requests) or [`MAX_RESPONSE`] (responses) is an
//! error before anything is allocated. The protocol's version is in its
//! name ([`PROTOCOL`]); a change of these messages takes a new name.
//!
//! Invariant: [`unpack`] writes into the repository's object database
//! (`.git/objects`) and nowhere else: no reference, index or working-tree
//! file moves. Objects of a pack that turns out incomplete stay there,
//! unreferenced, until `git gc` prunes them.

use crate::frames::Message;
use git2::{ObjectType, Oid, Repository};
use libp2p::StreamProtocol;
pub use memo_core::protocol::objects::{Request, Response, MAX_COMMITS, MAX_PACK, MAX_REQUEST, MAX_RESPONSE};
use memo_core::DecodeError;
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The protocol's name.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/memo/git/1");

/// Why objects could not be served or taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectsError {
    #[error("{path} is not a Git repository Memo can read: {source}")]
    Open { path: PathBuf, source: git2::Error },
    #[error("Git failed {action}: {source}")]
    Git { action: &'static str, source: git2::Error },
    #[error("the pack is over {max} bytes: fetch fewer commits at once, or fetch them with git", max = MAX_PACK)]
    TooLarge,
    #[error("the peer's pack was refused: {source}; nothing of it was kept, ask another peer")]
    BadPack { source: git2::Error },
    #[error("the peer's pack lacks {missing}; the objects it held are kept, ask another peer for the rest")]
    Incomplete { missing: String },
    #[error("no peer reachable has the commit: start a daemon on a clone that has it, or fetch it with git")]
    NoPeer,
    #[error("network: {0}")]
    Network(String),
    #[error("unpacking stopped: {0}")]
    Task(String),
}

fn failed(action: &'static str) -> impl FnOnce(git2::Error) -> ObjectsError {
    move |source| ObjectsError::Git { action, source }
}

/// The codec: length prefix, size cap, then the message
/// ([`crate::frames`]).
pub type Codec = crate::frames::Codec<Request, Response>;

impl Message for Request {
    const MAX: usize = MAX_REQUEST;
    fn encode(&self) -> Vec<u8> {
        Request::encode(self)
    }
    fn decode(bytes: &[u8]) -> Result<Request, DecodeError> {
        Request::decode(bytes)
    }
    /// A request the peer would refuse (too many ids, or one of a wrong
    /// length) is not sent.
    fn check(&self) -> Result<(), DecodeError> {
        Request::check(self)
    }
}

impl Message for Response {
    const MAX: usize = MAX_RESPONSE;
    fn encode(&self) -> Vec<u8> {
        Response::encode(self)
    }
    fn decode(bytes: &[u8]) -> Result<Response, DecodeError> {
        Response::decode(bytes)
    }
}

/// The answer to `request` from the repository at (or above)
/// `repository`: a pack of the wanted commits and every object they reach,
/// less what the `have` commits this repository knows reach (haves it does
/// not know are ignored), or [`Response::Missing`] unless it holds every
/// wanted commit (or if it is no Git repository). A pack over
/// [`MAX_PACK`] is an error, [`ObjectsError::TooLarge`].
///
/// It reads the repository and compresses: the node runs it on a blocking
/// thread (`spawn_blocking`).
pub fn pack(repository: &Path, request: &Request) -> Result<Response, ObjectsError> {
    let Ok(repo) = Repository::discover(repository) else { return Ok(Response::Missing) };
    let mut walk = repo.revwalk().map_err(failed("starting a walk of the history"))?;
    for id in &request.want {
        match commit_of(&repo, id) {
            Some(oid) => walk.push(oid).map_err(failed("walking from a wanted commit"))?,
            None => return Ok(Response::Missing),
        }
    }
    for oid in request.have.iter().filter_map(|id| commit_of(&repo, id)) {
        walk.hide(oid).map_err(failed("leaving out the requester's commits"))?;
    }
    let mut builder = repo.packbuilder().map_err(failed("starting a pack"))?;
    builder.insert_walk(&mut walk).map_err(failed("listing the objects of the pack"))?;
    // Written piece by piece (the same bytes `write_buf` would give) so
    // that building stops as soon as the pack passes the limit.
    let mut pack = Vec::new();
    let mut too_large = false;
    let written = builder.foreach(|piece| {
        too_large = pack.len() + piece.len() > MAX_PACK;
        pack.extend_from_slice(piece);
        !too_large
    });
    match (too_large, written) {
        (true, _) => Err(ObjectsError::TooLarge),
        (false, Err(source)) => Err(ObjectsError::Git { action: "writing the pack", source }),
        (false, Ok(())) => Ok(Response::Pack(pack)),
    }
}

/// The commit `id` names in `repo`, if it holds it.
fn commit_of(repo: &Repository, id: &[u8]) -> Option<Oid> {
    let oid = Oid::from_bytes(id).ok()?;
    repo.find_commit(oid).ok().map(|commit| commit.id())
}

/// Writes `pack`, a peer's answer to a request for `want`, into the object
/// database of the repository at (or above) `repository`, then checks that
/// every wanted commit arrived whole: the commit, its ancestors down to
/// what the repository already had (its branch tips), and their trees and
/// blobs.
///
/// The pack comes from the network: libgit2's indexer checks its format
/// and each object's id as it writes, and a pack it refuses
/// ([`ObjectsError::BadPack`]) leaves nothing behind. A pack that is valid
/// but lacks something the wanted commits need is
/// [`ObjectsError::Incomplete`]. Only `.git/objects` is written (see the
/// module docs). It reads and writes files: run it on a blocking thread.
pub fn unpack(repository: &Path, pack: &[u8], want: &[Vec<u8>]) -> Result<(), ObjectsError> {
    if pack.len() > MAX_PACK {
        return Err(ObjectsError::TooLarge);
    }
    let repo = Repository::discover(repository)
        .map_err(|source| ObjectsError::Open { path: repository.to_owned(), source })?;
    let odb = repo.odb().map_err(failed("opening the object database"))?;
    let mut writer = odb.packwriter().map_err(failed("starting to write a pack"))?;
    if writer.write_all(pack).is_err() {
        // The writer's `io::Error` only says "Write error": libgit2's own
        // message (left for this thread) says what was wrong.
        let source = git2::Error::last_error(-1).unwrap_or_else(|| git2::Error::from_str("unreadable pack"));
        return Err(ObjectsError::BadPack { source });
    }
    writer.commit().map_err(|source| ObjectsError::BadPack { source })?;
    drop(writer);

    let mut wanted = Vec::with_capacity(want.len());
    for id in want {
        let missing = || ObjectsError::Incomplete { missing: format!("commit {}", memo_core::hex::encode(id)) };
        let oid = Oid::from_bytes(id).map_err(|_| missing())?;
        repo.find_commit(oid).map_err(|_| missing())?;
        wanted.push(oid);
    }
    check_complete(&repo, &wanted)
}

/// Checks that `want` are connected: every commit from them down to the
/// repository's tips, and every tree and blob of those commits, is in the
/// object database. (libgit2's indexer can check this too, but its object
/// database writer does not ask it to.) What the tips reach is taken as
/// whole, as Git does.
fn check_complete(repo: &Repository, want: &[Oid]) -> Result<(), ObjectsError> {
    let odb = repo.odb().map_err(failed("opening the object database"))?;
    let mut walk = repo.revwalk().map_err(failed("starting a walk of the history"))?;
    for &oid in want {
        walk.push(oid).map_err(failed("walking from a wanted commit"))?;
    }
    for oid in tips(repo) {
        walk.hide(oid).map_err(failed("leaving out the repository's own commits"))?;
    }
    let mut seen = HashSet::new();
    let mut trees = Vec::new();
    for oid in walk {
        let incomplete =
            |error: git2::Error| ObjectsError::Incomplete { missing: format!("history: {}", error.message()) };
        let commit = repo.find_commit(oid.map_err(incomplete)?).map_err(incomplete)?;
        trees.push((commit.tree_id(), commit.id()));
        // Depth first with a stack, not recursion: a hostile pack can nest
        // trees deeply.
        while let Some((tree, commit)) = trees.pop() {
            if !seen.insert(tree) {
                continue;
            }
            let missing = || ObjectsError::Incomplete { missing: format!("tree {tree} of commit {commit}") };
            for entry in repo.find_tree(tree).map_err(|_| missing())?.iter() {
                match entry.kind() {
                    Some(ObjectType::Tree) => trees.push((entry.id(), commit)),
                    Some(ObjectType::Blob) if seen.insert(entry.id()) && !odb.exists(entry.id()) => {
                        return Err(ObjectsError::Incomplete {
                            missing: format!("blob {} of commit {commit}", entry.id()),
                        })
                    }
                    // A submodule's commit lives in another repository.
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

/// The commits the repository at (or above) `repository` has that are
/// worth announcing as [`Request::have`]: HEAD's commit, then the tips of
/// local and remote-tracking branches, newest first, without repeats, at
/// most [`MAX_COMMITS`]. Empty before the first commit, or if there is no
/// repository.
pub fn haves(repository: &Path) -> Vec<Vec<u8>> {
    let Ok(repo) = Repository::discover(repository) else { return Vec::new() };
    tips(&repo).into_iter().map(|oid| oid.as_bytes().to_vec()).collect()
}

/// See [`haves`].
fn tips(repo: &Repository) -> Vec<Oid> {
    let head = repo.head().and_then(|head| head.peel_to_commit()).ok();
    let mut branches: Vec<git2::Commit<'_>> = match repo.references() {
        Ok(references) => references
            .filter_map(Result::ok)
            .filter(|reference| reference.is_branch() || reference.is_remote())
            .filter_map(|reference| reference.peel_to_commit().ok())
            .collect(),
        Err(error) => {
            tracing::warn!(%error, "the repository's branches cannot be listed: none announced");
            Vec::new()
        }
    };
    branches.sort_by_key(|commit| std::cmp::Reverse(commit.time().seconds()));
    let mut seen = HashSet::new();
    head.into_iter()
        .chain(branches)
        .map(|commit| commit.id())
        .filter(|oid| seen.insert(*oid))
        .take(MAX_COMMITS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::tests::git;
    use libp2p::request_response::Codec as _;
    use std::io;

    fn commit(dir: &Path, message: &str) -> Vec<u8> {
        git(dir, &["add", "-A"]);
        git(dir, &["commit", "-q", "-m", message]);
        id(&git(dir, &["rev-parse", "HEAD"]))
    }

    fn id(hex: &str) -> Vec<u8> {
        Oid::from_str(hex).unwrap().as_bytes().to_vec()
    }

    /// Text that compresses poorly, so that leaving it out shows in a
    /// pack's size.
    fn noise(len: usize, seed: u64) -> String {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(b'a' + (state % 26) as u8)
            })
            .collect()
    }

    /// A repository of three commits: a large file, then a second file,
    /// then a third in a directory. Returns the commits' ids.
    fn three_commits(root: &Path) -> [Vec<u8>; 3] {
        git(root, &["init", "-q", "-b", "main"]);
        std::fs::write(root.join("big.txt"), noise(50_000, 1)).unwrap();
        let first = commit(root, "first");
        std::fs::write(root.join("second.txt"), "second\n").unwrap();
        let second = commit(root, "second");
        std::fs::create_dir(root.join("dir")).unwrap();
        std::fs::write(root.join("dir/third.txt"), "third\n").unwrap();
        let third = commit(root, "third");
        [first, second, third]
    }

    /// A pack's object count, from its header.
    fn objects_in(pack: &[u8]) -> u32 {
        assert_eq!(&pack[..4], b"PACK");
        u32::from_be_bytes(pack[8..12].try_into().unwrap())
    }

    fn pack_bytes(response: Response) -> Vec<u8> {
        match response {
            Response::Pack(pack) => pack,
            Response::Missing => panic!("the server has every wanted commit"),
        }
    }

    /// Every file outside `.git/objects`, with its size and modification
    /// time, to show that unpacking touches nothing else.
    fn outside_objects(root: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
        let mut files = Vec::new();
        let mut dirs = vec![root.to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let meta = std::fs::symlink_metadata(&path).unwrap();
                if path == root.join(".git/objects") {
                    continue;
                } else if meta.is_dir() {
                    dirs.push(path);
                } else {
                    files.push((path, meta.len(), meta.modified().unwrap()));
                }
            }
        }
        files.sort();
        files
    }

    fn pack_dir(root: &Path) -> Vec<PathBuf> {
        let mut files: Vec<_> =
            std::fs::read_dir(root.join(".git/objects/pack")).unwrap().map(|entry| entry.unwrap().path()).collect();
        files.sort();
        files
    }

    #[test]
    fn a_clone_behind_gets_the_new_commits_and_only_what_it_lacks() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        git(&a, &["init", "-q", "-b", "main"]);
        std::fs::write(a.join("big.txt"), noise(50_000, 1)).unwrap();
        let first = commit(&a, "first");
        git(dir.path(), &["clone", "-q", "a", "b"]);
        std::fs::write(a.join("second.txt"), "second\n").unwrap();
        commit(&a, "second");
        std::fs::create_dir(a.join("dir")).unwrap();
        std::fs::write(a.join("dir/third.txt"), "third\n").unwrap();
        let third = commit(&a, "third");
        let want = vec![third.clone()];

        let have = haves(&b);
        assert_eq!(have, vec![first.clone()], "HEAD, main and origin/main are the first commit");
        let lean = pack_bytes(pack(&a, &Request { want: want.clone(), have: have.clone() }).unwrap());
        let full = pack_bytes(pack(&a, &Request { want: want.clone(), have: vec![] }).unwrap());
        // Second and third: two commits, two root trees, `dir`, two blobs.
        // The first commit, its tree and big.txt (still in the third's
        // tree) are left out: the hidden commit's objects are excluded.
        assert_eq!(objects_in(&lean), 7);
        assert_eq!(objects_in(&full), 10);
        assert!(lean.len() + 10_000 < full.len(), "{} bytes with the have, {} without", lean.len(), full.len());

        let before = outside_objects(&b);
        unpack(&b, &lean, &want).unwrap();
        assert_eq!(outside_objects(&b), before, "nothing but .git/objects is written");
        let repo = Repository::open(&b).unwrap();
        let tree = repo.find_commit(Oid::from_bytes(&third).unwrap()).unwrap().tree().unwrap();
        let blob = tree.get_path(Path::new("dir/third.txt")).unwrap().to_object(&repo).unwrap().peel_to_blob().unwrap();
        assert_eq!(blob.content(), b"third\n");
        assert!(tree.get_path(Path::new("big.txt")).is_ok());
        assert_eq!(
            git(&b, &["cat-file", "-p", &format!("{}:dir/third.txt", Oid::from_bytes(&third).unwrap())]),
            "third"
        );
        git(&b, &["fsck", "--no-dangling"]);
        assert_eq!(haves(&b), vec![first], "the branches did not move");

        // Again: objects already there are fine.
        unpack(&b, &lean, &want).unwrap();
    }

    #[test]
    fn an_empty_repository_takes_the_whole_history() {
        let dir = tempfile::tempdir().unwrap();
        let (a, c) = (dir.path().join("a"), dir.path().join("c"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&c).unwrap();
        let [_, _, third] = three_commits(&a);
        let want = vec![third.clone()];
        git(&c, &["init", "-q"]);
        assert!(haves(&c).is_empty(), "no commit yet");
        let full = pack_bytes(pack(&a, &Request { want: want.clone(), have: haves(&c) }).unwrap());
        unpack(&c, &full, &want).unwrap();
        let hex = Oid::from_bytes(&third).unwrap().to_string();
        assert_eq!(git(&c, &["rev-list", "--count", &hex]), "3");
        assert_eq!(git(&c, &["cat-file", "-p", &format!("{hex}:second.txt")]), "second");
    }

    #[test]
    fn a_commit_the_server_lacks_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let [first, ..] = three_commits(dir.path());
        let unknown = vec![7; 20];
        let request = Request { want: vec![first.clone(), unknown], have: vec![] };
        assert_eq!(pack(dir.path(), &request).unwrap(), Response::Missing);
        let sha256 = Request { want: vec![vec![7; 32]], have: vec![] };
        assert_eq!(pack(dir.path(), &sha256).unwrap(), Response::Missing);
        let nowhere = tempfile::tempdir().unwrap();
        assert_eq!(pack(nowhere.path(), &Request { want: vec![first], have: vec![] }).unwrap(), Response::Missing);
        assert!(haves(nowhere.path()).is_empty());
    }

    #[test]
    fn unknown_haves_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let [first, _, third] = three_commits(dir.path());
        let blob = id(&git(dir.path(), &["rev-parse", "HEAD:second.txt"]));
        let request = Request { want: vec![third], have: vec![vec![9; 20], vec![9; 32], blob, first] };
        assert_eq!(objects_in(&pack_bytes(pack(dir.path(), &request).unwrap())), 7);
    }

    #[test]
    fn a_garbage_pack_is_refused_and_the_repository_stays_usable() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let [first, _, third] = three_commits(&a);
        let want = vec![third];
        git(&b, &["init", "-q"]);
        let full = pack_bytes(pack(&a, &Request { want: want.clone(), have: vec![] }).unwrap());
        let packs_before = pack_dir(&b);
        let before = outside_objects(&b);

        let random = noise(4096, 3).into_bytes();
        let mut bad_header = full.clone();
        bad_header[7] = 9; // pack version 9
        let mut flipped = full.clone();
        let middle = full.len() / 2;
        flipped[middle] ^= 0xff;
        let garbage: [(&str, &[u8]); 7] = [
            ("empty", &[]),
            ("random", &random),
            ("a header only", &full[..12]),
            ("truncated in the middle", &full[..middle]),
            ("without its checksum", &full[..full.len() - 20]),
            ("another version", &bad_header),
            ("a flipped byte", &flipped),
        ];
        for (what, bytes) in garbage {
            let error = unpack(&b, bytes, &want).expect_err(what);
            assert!(matches!(error, ObjectsError::BadPack { .. }), "{what}: {error}");
            assert_eq!(pack_dir(&b), packs_before, "{what}: nothing left in objects/pack");
        }
        assert_eq!(outside_objects(&b), before);

        unpack(&b, &full, &want).unwrap();
        git(&b, &["fsck", "--no-dangling"]);
        assert!(Repository::open(&b).unwrap().find_commit(Oid::from_bytes(&first).unwrap()).is_ok());
    }

    #[test]
    fn a_valid_pack_without_a_commits_tree_is_incomplete() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let [first, _, third] = three_commits(&a);
        git(&b, &["init", "-q"]);
        let repo = Repository::open(&a).unwrap();
        let only = |objects: &[Oid]| {
            let mut builder = repo.packbuilder().unwrap();
            for &oid in objects {
                builder.insert_object(oid, None).unwrap();
            }
            let mut buf = git2::Buf::new();
            builder.write_buf(&mut buf).unwrap();
            buf.to_vec()
        };
        let first = Oid::from_bytes(&first).unwrap();
        let third = Oid::from_bytes(&third).unwrap();

        let error = unpack(&b, &only(&[first]), &[third.as_bytes().to_vec()]).unwrap_err();
        assert!(matches!(&error, ObjectsError::Incomplete { missing } if missing.starts_with("commit")), "{error}");
        let error = unpack(&b, &only(&[first]), &[first.as_bytes().to_vec()]).unwrap_err();
        assert!(matches!(&error, ObjectsError::Incomplete { missing } if missing.starts_with("tree")), "{error}");
        let tree = repo.find_commit(first).unwrap().tree_id();
        let error = unpack(&b, &only(&[tree]), &[first.as_bytes().to_vec()]).unwrap_err();
        assert!(matches!(&error, ObjectsError::Incomplete { missing } if missing.starts_with("blob")), "{error}");
        let error = unpack(&b, &only(&[third]), &[third.as_bytes().to_vec()]).unwrap_err();
        assert!(matches!(&error, ObjectsError::Incomplete { missing } if missing.starts_with("history")), "{error}");
    }

    #[test]
    fn unpacking_needs_a_repository() {
        let dir = tempfile::tempdir().unwrap();
        let error = unpack(dir.path(), b"PACK", &[]).unwrap_err();
        assert!(matches!(error, ObjectsError::Open { .. }), "{error}");
    }

    #[test]
    fn haves_lists_head_and_branch_tips_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let [first, second, third] = three_commits(root);
        git(root, &["branch", "old", &Oid::from_bytes(&first).unwrap().to_string()]);
        git(root, &["update-ref", "refs/remotes/origin/main", &Oid::from_bytes(&second).unwrap().to_string()]);
        git(root, &["tag", "v1", &Oid::from_bytes(&first).unwrap().to_string()]);
        git(root, &["checkout", "-q", "--detach", &Oid::from_bytes(&second).unwrap().to_string()]);
        let have = haves(root);
        assert_eq!(have[0], second, "HEAD first");
        let mut sorted = have.clone();
        sorted.sort();
        let mut expected = vec![first, second, third];
        expected.sort();
        assert_eq!(sorted, expected);
    }

    fn read_request(bytes: Vec<u8>) -> io::Result<Request> {
        futures::executor::block_on(Codec::default().read_request(&PROTOCOL, &mut futures::io::Cursor::new(bytes)))
    }

    fn read_response(bytes: Vec<u8>) -> io::Result<Response> {
        futures::executor::block_on(Codec::default().read_response(&PROTOCOL, &mut futures::io::Cursor::new(bytes)))
    }

    #[test]
    fn the_codec_refuses_oversized_frames_and_bad_requests() {
        let oversized = ((MAX_REQUEST + 1) as u32).to_be_bytes().to_vec();
        assert_eq!(read_request(oversized).unwrap_err().kind(), io::ErrorKind::InvalidData);
        let oversized = ((MAX_RESPONSE + 1) as u32).to_be_bytes().to_vec();
        assert_eq!(read_response(oversized).unwrap_err().kind(), io::ErrorKind::InvalidData);
        let mut garbage = 3u32.to_be_bytes().to_vec();
        garbage.extend([1, 5, 0]);
        assert_eq!(read_request(garbage).unwrap_err().kind(), io::ErrorKind::InvalidData);

        let too_many = Request { want: vec![vec![1; 20]; MAX_COMMITS + 1], have: vec![] };
        let mut sink = futures::io::Cursor::new(Vec::new());
        let written = futures::executor::block_on(Codec::default().write_request(&PROTOCOL, &mut sink, too_many));
        assert_eq!(written.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert!(sink.into_inner().is_empty(), "nothing sent");
    }

    #[test]
    fn the_codec_round_trips() {
        let request = Request { want: vec![vec![1; 20]], have: vec![vec![2; 20]] };
        let mut buffer = futures::io::Cursor::new(Vec::new());
        futures::executor::block_on(Codec::default().write_request(&PROTOCOL, &mut buffer, request.clone())).unwrap();
        assert_eq!(read_request(buffer.into_inner()).unwrap(), request);
        let response = Response::Pack(vec![1, 2, 3]);
        let mut buffer = futures::io::Cursor::new(Vec::new());
        futures::executor::block_on(Codec::default().write_response(&PROTOCOL, &mut buffer, response.clone())).unwrap();
        assert_eq!(read_response(buffer.into_inner()).unwrap(), response);
    }
}
