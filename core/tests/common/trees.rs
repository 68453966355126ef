//! Random working trees and their changes, for the randomized tests.

use memo_core::tree::{Content, EntryKind, MemoryBase, Status, TreeOp, WorkTree};
use rand::rngs::SmallRng;
use rand::Rng;

/// Few names, so that creates and moves collide often.
const NAMES: &[&str] = &["a", "b", "c.txt", "d.bin"];

pub fn random_base(rng: &mut SmallRng) -> MemoryBase {
    let mut base = MemoryBase::new();
    for i in 0..rng.gen_range(0..12) {
        let dir = ["", "src/", "src/deep/", "docs/"][rng.gen_range(0..4)];
        base = match rng.gen_range(0..4) {
            0 => base.file(&format!("{dir}bin{i}"), vec![0u8, i as u8]),
            1 => base.symlink(&format!("{dir}link{i}"), "target"),
            _ => base.file(&format!("{dir}file{i}.txt"), format!("base text {i}\n")),
        };
    }
    base
}

pub fn random_text(rng: &mut SmallRng) -> String {
    const ALPHABET: &[char] = &['a', 'b', ' ', '\n', 'é', '𝄞'];
    (0..rng.gen_range(1..5)).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())]).collect()
}

/// One local action: returns the operations it made (none if the random
/// choice was not a valid change, which must then change nothing).
pub fn local_action(rng: &mut SmallRng, tree: &mut WorkTree) -> Vec<TreeOp> {
    let entries = tree.entries();
    let shown: Vec<_> = entries.iter().filter(|e| e.status != Status::Deleted).collect();
    let dirs: Vec<String> = std::iter::once(String::new())
        .chain(shown.iter().filter(|e| e.kind == EntryKind::Dir).map(|e| e.path.clone()))
        .collect();
    let dir = &dirs[rng.gen_range(0..dirs.len())];
    let name = NAMES[rng.gen_range(0..NAMES.len())];
    let new_path = if dir.is_empty() { name.to_string() } else { format!("{dir}/{name}") };
    let any = shown.get(rng.gen_range(0..shown.len().max(1))).map(|e| e.path.clone());
    let before = tree.version().clone();
    let ops = match (rng.gen_range(0..100), any) {
        (0..=14, _) => tree.create_dir(&new_path).map(|op| vec![op]),
        (15..=29, _) => tree.create_text(&new_path, &random_text(rng)),
        (30..=34, _) => tree.create_binary(&new_path, vec![rng.gen()], rng.gen()).map(|op| vec![op]),
        (35..=49, Some(path)) => tree.rename(&path, &new_path).map(|op| vec![op]),
        (50..=57, Some(path)) => tree.delete(&path).map(|op| vec![op]),
        (58..=84, Some(path)) => match tree.read(&path) {
            Ok(Content::Text(text)) => {
                let len = text.chars().count();
                let start = rng.gen_range(0..=len);
                let end = (start + rng.gen_range(0..3)).min(len);
                tree.edit_text(&path, start, end, &random_text(rng))
            }
            _ => tree.write(&path, vec![rng.gen()]).map(|op| vec![op]),
        },
        (85..=89, Some(path)) => tree.set_executable(&path, rng.gen()).map(|op| vec![op]),
        (90..=94, Some(path)) => tree.undo_text(&path).map(|op| op.into_iter().collect()),
        (95..=96, _) => tree.record_commit(vec![rng.gen(); 20]).map(|op| vec![op]),
        (97, _) => tree.record_checkout(vec![rng.gen(); 20], "main".into()).map(|op| vec![op]),
        _ => Ok(vec![]),
    };
    match ops {
        Ok(ops) => ops,
        Err(_) => {
            assert_eq!(tree.version(), &before, "a refused change emitted something");
            vec![]
        }
    }
}

pub type Snapshot = Vec<(String, EntryKind, Status, bool, Option<Content>)>;

pub fn snapshot(tree: &WorkTree) -> Snapshot {
    tree.entries()
        .into_iter()
        .map(|e| {
            let content = (e.status != Status::Deleted).then(|| tree.read(&e.path).expect("a shown entry reads"));
            (e.path, e.kind, e.status, e.executable, content)
        })
        .collect()
}
