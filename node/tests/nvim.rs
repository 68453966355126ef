//! Two headless Neovims, each on its own daemon, join one file through
//! `memo rpc --stdio` with the plugin in `examples/nvim` and type into it
//! at once: both buffers converge, and each daemon holds that text.
//!
//! Needs `nvim` (Debian's `neovim`, installed by `scripts/setup`); without
//! it the test says so and passes, except under CI.

mod common;

use common::daemons::Pair;
use common::editor::{wait_for_file, Client};
use common::PATIENCE;
use serde_json::json;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Keystrokes each Neovim types.
const KEYSTROKES: usize = 60;

/// The script each Neovim runs: join, type `KEYSTROKES` times `CHAR` at
/// the end of the buffer (a normal-mode `A`, as a user would), wait until
/// the other's characters are there too, write the buffer to `OUT`, quit.
const TYPIST: &str = r#"
local memo = require('memo')
local state = memo.join({ memo = MEMO, root = ROOT, path = 'shared.txt' })
local function text() return table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n') end
local function count(c) return select(2, text():gsub(c, '')) end
assert(vim.wait(60000, function() return state.ready end, 5), 'not joined')
for _ = 1, KEYSTROKES do
  vim.cmd('normal! GA' .. CHAR)
  vim.wait(2)
end
local done = vim.wait(60000, function()
  return state.waiting == 0 and count('a') == KEYSTROKES and count('b') == KEYSTROKES
end, 5)
local out = io.open(OUT, 'w')
out:write(done and text() or ('unfinished: ' .. text()))
out:close()
vim.cmd('qa!')
"#;

#[test]
fn two_neovims_type_into_one_file_and_converge() {
    if Command::new("nvim").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "nvim is missing (scripts/setup installs it)");
        eprintln!("nvim is not installed: the Neovim test is skipped");
        return;
    }
    let pair = Pair::new();
    let (a, b) = (&pair.a, &pair.b);
    // The file exists on both sides before the editors come.
    Client::connect(&a.socket()).call("buffer/open", json!({ "path": "shared.txt", "create": true }));
    wait_for_file(&b.socket(), "shared.txt");

    let scratch = tempfile::tempdir().unwrap();
    let typists: Vec<(Child, std::path::PathBuf)> = [(a, 'a'), (b, 'b')]
        .into_iter()
        .map(|(copy, char)| {
            let out = scratch.path().join(format!("{char}.out"));
            (neovim(copy.path(), char, &out, scratch.path()), out)
        })
        .collect();
    let texts: Vec<String> = typists
        .into_iter()
        .map(|(child, out)| {
            finish(child);
            std::fs::read_to_string(&out).unwrap()
        })
        .collect();
    assert!(!texts[0].starts_with("unfinished"), "{}", texts[0]);
    assert_eq!(texts[0], texts[1], "the two buffers converge");
    assert_eq!(texts[0].matches('a').count() + texts[0].matches('b').count(), 2 * KEYSTROKES);
    for daemon in [a, b] {
        let file = Client::connect(&daemon.socket()).call("buffer/open", json!({ "path": "shared.txt" }));
        assert_eq!(file["text"], json!(texts[0]), "the daemon holds the buffers' text");
    }
    for copy in [a, b] {
        let deadline = Instant::now() + PATIENCE;
        let on_disk = || std::fs::read_to_string(copy.path().join("shared.txt")).unwrap_or_default();
        while on_disk() != texts[0] {
            assert!(Instant::now() < deadline, "the file on disk is {:?}, not {:?}", on_disk(), texts[0]);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Starts a headless Neovim in `dir` typing `char`, its result to `out`.
fn neovim(dir: &Path, char: char, out: &Path, scratch: &Path) -> Child {
    let plugin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/nvim");
    let script = scratch.join(format!("{char}.lua"));
    let header = format!(
        "MEMO = {:?}\nROOT = {:?}\nOUT = {:?}\nCHAR = '{char}'\nKEYSTROKES = {KEYSTROKES}\n",
        env!("CARGO_BIN_EXE_memo"),
        dir.display().to_string(),
        out.display().to_string(),
    );
    std::fs::write(&script, header + TYPIST).unwrap();
    Command::new("nvim")
        .args(["--headless", "--clean", "-n"])
        .arg("--cmd")
        .arg(format!("set rtp+={}", plugin.display()))
        .arg("-c")
        .arg(format!("luafile {}", script.display()))
        .current_dir(dir)
        .env("MEMO_MDNS", "off")
        .env("MEMO_CONFIG", common::daemons::NO_CONFIG)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits for a Neovim to quit (killing it if it hangs: a guard, not a
/// timed assertion).
fn finish(mut child: Child) {
    let deadline = Instant::now() + PATIENCE * 2;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("a Neovim did not finish");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
