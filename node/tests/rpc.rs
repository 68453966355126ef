//! The editor RPC against real `memo daemon` processes: conformance
//! (malformed lines, requests without `jsonrpc`, unknown methods, bad
//! params, out-of-range edits, clients that go away mid-stream), the
//! methods at work (edit, undo, redo, anchors, the past), two daemons
//! whose editors type into one file at once, selections shown to the
//! others, and `memo rpc --stdio`.

mod common;

use common::daemons::{memo_command, Pair, WorkingCopy};
use common::editor::{wait_for_file, Client, Editor};
use common::PATIENCE;
use memo_node::control::code;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;
use std::time::Instant;

fn daemon() -> (WorkingCopy, common::daemons::Daemon) {
    let copy = WorkingCopy::new();
    copy.share();
    let daemon = copy.start_daemon();
    (copy, daemon)
}

#[test]
fn malformed_requests_fail_alone_and_the_connection_goes_on() {
    let (copy, _daemon) = daemon();
    let mut client = Client::connect(&copy.socket());
    let mut error_of = |line: &[u8]| {
        client.send_line(line);
        let answer = client.read();
        (answer["id"].clone(), answer["error"]["code"].as_i64().unwrap(), answer["error"]["message"].to_string())
    };
    assert_eq!(error_of(b"{not json").1, code::PARSE);
    assert_eq!(error_of(b"\xff\xfe").1, code::PARSE);
    let (id, code, message) = error_of(br#"{"id": 7, "method": "status"}"#);
    assert_eq!((id, code), (json!(7), code::INVALID_REQUEST));
    assert!(message.contains("jsonrpc"), "{message}");
    let (_, code, message) = error_of(br#"{"jsonrpc": "2.0", "id": 8, "method": "buffer/teleport"}"#);
    assert_eq!(code, code::METHOD_NOT_FOUND);
    assert!(message.contains("buffer/teleport"), "{message}");

    let (code, message) = client.error("buffer/open", json!({ "path": 3 }));
    assert_eq!(code, code::INVALID_PARAMS);
    assert!(message.starts_with("buffer/open:"), "{message}");
    let (code, message) = client.error("buffer/open", json!({ "path": "nowhere.txt" }));
    assert_eq!(code, code::INVALID_PARAMS);
    assert!(message.contains("nowhere.txt"), "{message}");
    let (code, _) = client.error("buffer/edit", json!({ "path": "a.txt", "rev": 0, "edits": [] }));
    assert_eq!(code, code::INVALID_PARAMS, "not open");
    let (code, _) = client.error("anchor/resolve", json!({ "anchor": "anchor:zz" }));
    assert_eq!(code, code::INVALID_PARAMS);
    let (code, _) = client.error("file/read_at", json!({ "path": "a.txt", "version": "yesterday" }));
    assert_eq!(code, code::INVALID_PARAMS);

    // A notification (no id) runs and gets no answer; the next request does.
    client.send_line(br#"{"jsonrpc": "2.0", "method": "buffer/open", "params": {"path": "n.txt", "create": true}}"#);
    assert!(client.call("status", Value::Null)["node"]["units"].as_u64().unwrap() > 0);
}

#[test]
fn out_of_range_edits_are_refused_whole_and_name_the_range() {
    let (copy, _daemon) = daemon();
    let mut client = Client::connect(&copy.socket());
    client.call("buffer/open", json!({ "path": "a.txt", "create": true }));
    let edit = |start: usize, end: usize, text: &str| json!({ "range": { "start": start, "end": end }, "text": text });
    let answer = client.call("buffer/edit", json!({ "path": "a.txt", "rev": 0, "edits": [edit(0, 0, "a𝄞b")] }));
    assert_eq!(answer, json!({ "rev": 0, "edits": [] }));

    for (edits, named) in [
        (vec![edit(0, 0, "x"), edit(5, 9, "")], "edit 1: range 5..9"),
        (vec![edit(2, 2, "x")], "edit 0: range 2..2"), // inside the surrogate pair
        (vec![edit(3, 1, "")], "edit 0: range 3..1"),
    ] {
        let (code, message) = client.error("buffer/edit", json!({ "path": "a.txt", "rev": 0, "edits": edits }));
        assert_eq!(code, code::INVALID_PARAMS);
        assert!(message.contains(named), "{message}");
    }
    let (code, message) = client.error("buffer/edit", json!({ "path": "a.txt", "rev": 9, "edits": [] }));
    assert!(code == code::INVALID_PARAMS && message.contains("revision 9"), "{message}");
    let (code, message) = client.error("buffer/ack", json!({ "path": "a.txt", "rev": 9 }));
    assert!(code == code::INVALID_PARAMS && message.contains("revision 9"), "{message}");
    assert_eq!(client.call("buffer/ack", json!({ "path": "a.txt", "rev": 0 })), json!({}));
    let text = client.call("buffer/open", json!({ "path": "a.txt" }))["text"].clone();
    assert_eq!(text, json!("a𝄞b"), "nothing of the refused edits landed");
}

#[test]
fn edits_undo_redo_anchors_and_the_past() {
    let (copy, _daemon) = daemon();
    let mut client = Client::connect(&copy.socket());
    let opened = client.call("buffer/open", json!({ "path": "notes/today.md", "create": true, "encoding": "utf-8" }));
    let empty = opened["version"].clone();
    let edit = |rev: u64, start: usize, end: usize, text: &str| json!({ "path": "notes/today.md", "rev": rev, "edits": [{ "range": { "start": start, "end": end }, "text": text }] });
    client.call("buffer/edit", edit(0, 0, 0, "héllo world"));
    let anchor = client.call("anchor/create", json!({ "path": "notes/today.md", "offset": 7, "encoding": "utf-8" }));
    let anchor = anchor["anchor"].as_str().unwrap().to_string();
    client.call("buffer/edit", edit(0, 0, 0, "» "));
    let resolved = client.call("anchor/resolve", json!({ "anchor": anchor, "encoding": "chars" }));
    assert_eq!(resolved, json!({ "path": "notes/today.md", "offset": 8 }), "after \"» héllo \"");

    let undone = client.call("buffer/undo", json!({ "path": "notes/today.md", "rev": 0 }));
    assert_eq!(undone["done"], json!(true));
    assert_eq!(undone["edits"], json!([{ "range": { "start": 0, "end": 3 }, "text": "" }]), "UTF-8: » is 2 bytes");
    let rev = undone["rev"].as_u64().unwrap();
    let redone = client.call("buffer/redo", json!({ "path": "notes/today.md", "rev": rev }));
    assert_eq!(redone["edits"], json!([{ "range": { "start": 0, "end": 0 }, "text": "» " }]));
    let rev = redone["rev"].as_u64().unwrap();
    let nothing = client.call("buffer/redo", json!({ "path": "notes/today.md", "rev": rev }));
    assert_eq!((nothing["done"].clone(), nothing["edits"].clone()), (json!(false), json!([])));

    let now = client.call("buffer/open", json!({ "path": "notes/today.md" }));
    assert_eq!(now["text"], json!("» héllo world"));
    let then = client.call("file/read_at", json!({ "path": "notes/today.md", "version": empty }));
    assert_eq!(then["text"], json!(""));
    let after_first = client.call("file/read_at", json!({ "path": "notes/today.md", "version": now["version"] }));
    assert_eq!(after_first["text"], json!("» héllo world"));
}

#[test]
fn a_client_that_goes_away_mid_stream_disturbs_no_one() {
    let (copy, _daemon) = daemon();
    let socket = copy.socket();
    let mut writer = Editor::open(&socket, "log.txt");
    let mut quitter = Client::connect(&socket);
    quitter.call("buffer/open", json!({ "path": "log.txt" }));
    quitter.call("buffer/subscribe", json!({ "path": "log.txt" }));
    let mut watcher = Editor::open(&socket, "log.txt");
    // Half a request, then many notifications it never reads.
    quitter.stream.write_all(br#"{"jsonrpc": "2.0", "id": 1, "meth"#).unwrap();
    for i in 0..200 {
        let end = writer.text.len();
        writer.type_text(end, end, &format!("line {i}\n"));
        if i == 100 {
            drop(quitter.stream.shutdown(std::net::Shutdown::Both));
        }
    }
    writer.settle();
    while watcher.text != writer.text {
        watcher.pump();
    }
    assert_eq!(watcher.text().lines().count(), 200);
    assert!(Client::connect(&socket).call("status", Value::Null)["node"]["units"].as_u64().unwrap() > 0);
}

/// Two working copies joined by ticket; an editor on each types into one
/// file at once, several edits in flight: both buffers end equal to each
/// other and to each daemon's file, every keystroke there.
#[test]
fn editors_on_two_daemons_type_into_one_file_and_converge() {
    let pair = Pair::new();
    let (mut alice, mut bob) = editors(&pair, "[]");

    for i in 0..40 {
        // Alice types inside the brackets, Bob after them; some edits
        // cross notifications on the way.
        let at = alice.text.iter().position(|&unit| unit == u16::from(b']')).unwrap();
        alice.type_text(at, at, "a");
        let end = bob.text.len();
        bob.type_text(end, end, if i % 2 == 0 { "β" } else { "𝄞" });
        if i % 5 == 0 {
            alice.settle();
            bob.settle();
        }
    }
    alice.settle();
    bob.settle();
    // Every edit is an insert: once an editor shows all 80, it has every
    // operation, so both must show the same text.
    let complete = |editor: &Editor| {
        let text = editor.text();
        text.matches('a').count() == 40 && text.matches(['β', '𝄞']).count() == 40
    };
    while !complete(&alice) {
        alice.pump();
    }
    while !complete(&bob) {
        bob.pump();
    }
    assert_eq!(alice.text(), bob.text());
    assert!(alice.text().starts_with("[a") && alice.text().contains("a]"), "{}", alice.text());
    for copy in [&pair.a, &pair.b] {
        let file = Client::connect(&copy.socket()).call("buffer/open", json!({ "path": "shared.txt" }));
        assert_eq!(file["text"], json!(alice.text()));
    }
}

/// Alice selects "world"; Bob, on another daemon, and Carol, on hers, see
/// it; it goes when Alice does.
#[test]
fn selections_reach_editors_on_this_daemon_and_its_peers() {
    let pair = Pair::new();
    let (mut alice, mut bob) = editors(&pair, "hello world");
    let mut carol = Editor::open(&pair.a.socket(), "shared.txt");

    // Presence is not caught up: until the daemons' link carries it, it
    // is lost. Alice sets it again with every dot she types, and the dots
    // keep Bob's and Carol's connections busy until it arrives.
    let deadline = Instant::now() + PATIENCE;
    let seen = |editor: &Editor| editor.notes_of("presence/changed").into_iter().cloned().collect::<Vec<_>>();
    while seen(&bob).is_empty() || seen(&carol).is_empty() {
        assert!(Instant::now() < deadline, "no presence arrived");
        alice.select(&[(6, 11)]);
        let end = alice.text.len();
        alice.type_text(end, end, ".");
        alice.settle();
        for editor in [&mut bob, &mut carol] {
            while editor.text != alice.text {
                editor.pump();
            }
        }
    }
    for seen in [&seen(&bob)[0], &seen(&carol)[0]] {
        assert_eq!(seen["selections"], json!([{ "start": 6, "end": 11 }]), "{seen}");
        assert_eq!(seen["path"], json!("shared.txt"));
    }
    assert!(seen(&alice).is_empty(), "an editor is not shown its own selections");

    drop(alice);
    while seen(&bob).last().unwrap()["selections"] != json!([]) {
        bob.pump();
    }
}

/// A linter on A marks `z` as an error, and a test runner on A streams
/// its output: Bob on B sees the diagnostic, which stays on `z` while
/// Alice edits before it, and a follower on B gets the output.
#[test]
fn annotations_stay_on_their_text_and_streams_reach_followers() {
    let pair = Pair::new();
    let (mut alice, mut bob) = editors(&pair, "let y = z;");
    let mut linter = Client::connect(&pair.a.socket());
    linter.call("buffer/open", json!({ "path": "shared.txt" }));
    let mut follower = Client::connect(&pair.b.socket());
    follower.call("stream/follow", json!({ "name": "tests" }));
    let diagnostic = json!({ "range": { "start": 8, "end": 9 }, "severity": "error", "message": "z is not defined" });

    // Ephemeral, like presence: published again with each dot Alice types
    // until the daemons' link carries it.
    let deadline = Instant::now() + PATIENCE;
    while bob.notes_of("annotation/changed").is_empty() {
        assert!(Instant::now() < deadline, "no annotation arrived");
        let annotations = json!({ "path": "shared.txt", "source": "lint", "annotations": [diagnostic] });
        linter.call("annotation/set", annotations);
        linter.call("stream/publish", json!({ "name": "tests", "data": "test a ... ok\n" }));
        let end = alice.text.len();
        alice.type_text(end, end, ".");
        alice.settle();
        while bob.text != alice.text {
            bob.pump();
        }
    }
    let changed = bob.notes_of("annotation/changed")[0].clone();
    assert_eq!((&changed["source"], &changed["annotations"][0]), (&json!("lint"), &diagnostic));

    alice.type_text(0, 0, "  ");
    alice.settle();
    while bob.text != alice.text {
        bob.pump();
    }
    let listed = bob.client.call("annotation/list", json!({ "path": "shared.txt" }));
    assert_eq!(listed["annotations"][0]["range"], json!({ "start": 10, "end": 11 }), "{listed}");
    assert_eq!(listed["annotations"][0]["message"], json!("z is not defined"));

    let data = follower.notification();
    assert_eq!((&data["method"], &data["params"]["data"]), (&json!("stream/data"), &json!("test a ... ok\n")));
    let (code, _) = linter.error("stream/publish", json!({ "name": "tests", "data": "x".repeat(9000) }));
    assert_eq!(code, code::INVALID_PARAMS);
}

/// Alice on A writes `text` into `shared.txt`; Bob on B opens it once it
/// has arrived.
fn editors(pair: &Pair, text: &str) -> (Editor, Editor) {
    let mut alice = Editor::open(&pair.a.socket(), "shared.txt");
    alice.type_text(0, 0, text);
    alice.settle();
    wait_for_file(&pair.b.socket(), "shared.txt");
    let mut bob = Editor::open(&pair.b.socket(), "shared.txt");
    while bob.text() != text {
        bob.pump();
    }
    (alice, bob)
}

#[test]
fn memo_rpc_stdio_speaks_lsp_framing() {
    let (copy, _daemon) = daemon();
    let mut child = memo_command(copy.path())
        .args(["rpc", "--stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut frame = |body: &str| {
        write!(stdin, "Content-Length: {}\r\nContent-Type: application/vscode-jsonrpc\r\n\r\n{body}", body.len())
            .unwrap();
    };
    // Pretty-printed JSON spans lines; a broken one fails alone.
    frame("{\n \"jsonrpc\": \"2.0\", \"id\": 1,\n \"method\": \"buffer/open\",\n \"params\": {\"path\": \"x.txt\", \"create\": true}\n}");
    frame("{\"jsonrpc\": \"2.0\", \"id\": 2, ");
    frame(
        r#"{"jsonrpc": "2.0", "id": 3, "method": "buffer/edit", "params": {"path": "x.txt", "rev": 0, "edits": [{"range": {"start": 0, "end": 0}, "text": "hi"}]}}"#,
    );
    drop(stdin);
    let mut read_frame = || -> Value {
        let mut length = 0;
        loop {
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            match line.trim_end() {
                "" => break,
                header => length = header.strip_prefix("Content-Length: ").unwrap().parse().unwrap(),
            }
        }
        let mut body = vec![0; length];
        stdout.read_exact(&mut body).unwrap();
        serde_json::from_slice(&body).unwrap()
    };
    assert_eq!(read_frame()["result"]["text"], json!(""));
    assert_eq!(read_frame()["error"]["code"], json!(code::PARSE));
    assert_eq!(read_frame()["result"]["rev"], json!(0));
    assert!(child.wait().unwrap().success(), "memo rpc ends with its input");
    let text = Client::connect(&copy.socket()).call("buffer/open", json!({ "path": "x.txt" }))["text"].clone();
    assert_eq!(text, json!("hi"));
}
