//! Editing traces for tests and benchmarks.
//!
//! The traces live outside the repository (they are other people's data):
//! `MEMO_TRACES` names their folder and defaults to `../shared/traces`
//! relative to the workspace root. [`traces_dir`] says plainly when they are
//! absent. The format is described in the traces' own `FORMAT.md`.

use std::io::Read;
use std::path::{Path, PathBuf};

mod replay;

pub use replay::{
    agent_replica, apply_patch, replay_concurrent, replay_concurrent_with, replay_sequential, ConcurrentReplay,
};

/// One patch: at `pos` (Unicode scalar values) delete `del` and insert `ins`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    pub pos: usize,
    pub del: usize,
    pub ins: String,
}

/// One transaction of a trace: patches applied in order on top of `parents`.
#[derive(Debug, Clone)]
pub struct Txn {
    /// Indices of earlier transactions; empty means the empty document.
    pub parents: Vec<usize>,
    pub agent: usize,
    pub patches: Vec<Patch>,
}

/// A whole trace. Sequential traces are loaded as a chain of agent 0.
#[derive(Debug, Clone)]
pub struct Trace {
    pub name: String,
    pub num_agents: usize,
    pub txns: Vec<Txn>,
    pub end_content: String,
}

/// The folder holding the traces, or an error that says how to get them.
pub fn traces_dir() -> Result<PathBuf, String> {
    let dir = std::env::var_os("MEMO_TRACES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces"));
    if dir.join("sequential").is_dir() {
        Ok(dir)
    } else {
        Err(format!(
            "editing traces not found at {}: set MEMO_TRACES to the folder holding \
             sequential/ and concurrent/ (the project's shared/traces)",
            dir.display()
        ))
    }
}

/// Loads `<traces_dir>/<relative>.json.gz`, e.g. `sequential/automerge-paper`.
pub fn load(relative: &str) -> Result<Trace, String> {
    let path = traces_dir()?.join(format!("{relative}.json.gz"));
    let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut json = String::new();
    flate2::read::GzDecoder::new(file).read_to_string(&mut json).map_err(|e| format!("{}: {e}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&json).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(relative.rsplit('/').next().unwrap_or(relative), &value)
        .ok_or_else(|| format!("{}: not an editing trace", path.display()))
}

/// The names of the traces in `<traces_dir>/<folder>`, sorted.
pub fn list(folder: &str) -> Result<Vec<String>, String> {
    let dir = traces_dir()?.join(folder);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            Some(format!("{folder}/{}", name.strip_suffix(".json.gz")?))
        })
        .collect();
    names.sort();
    Ok(names)
}

fn parse(name: &str, v: &serde_json::Value) -> Option<Trace> {
    let txns = v["txns"]
        .as_array()?
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let parents = match t.get("parents") {
                Some(p) => p.as_array()?.iter().map(|x| x.as_u64().map(|x| x as usize)).collect::<Option<Vec<_>>>()?,
                None if i == 0 => vec![],
                None => vec![i - 1],
            };
            let patches = t["patches"]
                .as_array()?
                .iter()
                .map(|p| {
                    Some(Patch {
                        pos: p[0].as_u64()? as usize,
                        del: p[1].as_u64()? as usize,
                        ins: p[2].as_str()?.to_owned(),
                    })
                })
                .collect::<Option<Vec<_>>>()?;
            Some(Txn { parents, agent: t.get("agent").and_then(|a| a.as_u64()).unwrap_or(0) as usize, patches })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Trace {
        name: name.to_owned(),
        num_agents: v.get("numAgents").and_then(|n| n.as_u64()).unwrap_or(1) as usize,
        txns,
        end_content: v["endContent"].as_str()?.to_owned(),
    })
}
