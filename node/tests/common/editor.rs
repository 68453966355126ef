//! A client of the daemon's RPC (JSON lines on its socket), and an editor
//! that keeps a buffer by the protocol of `buffer/*` (UTF-16 offsets).

use super::PATIENCE;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// A connection to a daemon's socket.
pub struct Client {
    pub stream: UnixStream,
    reader: BufReader<UnixStream>,
    next_id: u64,
    /// Notifications read while waiting for a response.
    pub notifications: VecDeque<Value>,
}

impl Client {
    pub fn connect(socket: &Path) -> Client {
        let stream = UnixStream::connect(socket).unwrap();
        // A guard against hanging forever, not a timed assertion.
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Client { stream, reader, next_id: 1, notifications: VecDeque::new() }
    }

    pub fn send_line(&mut self, line: &[u8]) {
        self.stream.write_all(line).unwrap();
        self.stream.write_all(b"\n").unwrap();
    }

    /// The next message from the daemon.
    pub fn read(&mut self) -> Value {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("the daemon answers");
        assert!(n > 0, "the daemon closed the connection");
        serde_json::from_str(&line).unwrap()
    }

    /// Sends a request; returns its id.
    pub fn send(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        self.send_line(request.to_string().as_bytes());
        id
    }

    /// The response to request `id`, keeping notifications read meanwhile.
    pub fn response(&mut self, id: u64) -> Value {
        loop {
            let message = self.read();
            if message.get("id").is_none() {
                self.notifications.push_back(message);
                continue;
            }
            assert_eq!(message["id"], json!(id), "responses come in order");
            return message;
        }
    }

    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(method, params);
        self.response(id)
    }

    /// A method's result; panics on an error.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let response = self.request(method, params);
        assert!(response.get("error").is_none(), "{method}: {response}");
        response["result"].clone()
    }

    /// A method's error (code, message); panics on a result.
    pub fn error(&mut self, method: &str, params: Value) -> (i64, String) {
        let response = self.request(method, params);
        let error = &response["error"];
        assert!(error.is_object(), "{method} should fail: {response}");
        (error["code"].as_i64().unwrap(), error["message"].as_str().unwrap().to_string())
    }

    /// The next notification.
    pub fn notification(&mut self) -> Value {
        match self.notifications.pop_front() {
            Some(message) => message,
            None => self.read(),
        }
    }
}

/// An editor's buffer on one file, kept by the `buffer/*` protocol:
/// edits applied at once and sent, notifications set aside while an edit
/// is unanswered, the answer to the latest edit taken.
pub struct Editor {
    pub client: Client,
    pub path: String,
    pub text: Vec<u16>,
    rev: u64,
    /// Requests sent and not answered, oldest first.
    waiting: VecDeque<u64>,
    aside: Vec<Value>,
    /// The notifications other than `buffer/changed` received, oldest
    /// first (presence, annotations).
    pub notes: Vec<Value>,
}

impl Editor {
    /// Opens `path` (made if missing) and subscribes.
    pub fn open(socket: &Path, path: &str) -> Editor {
        let mut client = Client::connect(socket);
        let opened = client.call("buffer/open", json!({ "path": path, "create": true }));
        client.call("buffer/subscribe", json!({ "path": path }));
        Editor {
            client,
            path: path.into(),
            text: opened["text"].as_str().unwrap().encode_utf16().collect(),
            rev: opened["rev"].as_u64().unwrap(),
            waiting: VecDeque::new(),
            aside: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn text(&self) -> String {
        String::from_utf16_lossy(&self.text)
    }

    /// The user replaces `start..end` (UTF-16) with `text`: applied here,
    /// sent, not waited for.
    pub fn type_text(&mut self, start: usize, end: usize, text: &str) {
        self.splice(start, end, text);
        let edit = json!({ "range": { "start": start, "end": end }, "text": text });
        let id = self.client.send("buffer/edit", json!({ "path": self.path, "rev": self.rev, "edits": [edit] }));
        self.waiting.push_back(id);
    }

    fn splice(&mut self, start: usize, end: usize, text: &str) {
        self.text.splice(start..end, text.encode_utf16());
    }

    fn apply(&mut self, edits: &Value) {
        for edit in edits.as_array().unwrap() {
            let range = &edit["range"];
            let (start, end) = (range["start"].as_u64().unwrap() as usize, range["end"].as_u64().unwrap() as usize);
            self.splice(start, end, edit["text"].as_str().unwrap());
        }
    }

    /// Handles the next message from the daemon.
    pub fn pump(&mut self) {
        let message = self.client.notification();
        match message.get("id") {
            None if message["method"] != "buffer/changed" => self.notes.push(message),
            None if self.waiting.is_empty() => self.notified(&message["params"]),
            None => self.aside.push(message["params"].clone()),
            Some(id) => {
                assert_eq!(Some(id.as_u64().unwrap()), self.waiting.pop_front(), "{message}");
                let result = &message["result"];
                assert!(result.is_object(), "{message} (the buffer: {:?})", self.text());
                if self.waiting.is_empty() {
                    self.apply(&result["edits"]);
                    self.rev = result["rev"].as_u64().unwrap();
                    for later in std::mem::take(&mut self.aside) {
                        if later["rev"].as_u64().unwrap() > self.rev {
                            self.notified(&later);
                        }
                    }
                }
            }
        }
    }

    fn notified(&mut self, params: &Value) {
        assert_eq!(params["path"], json!(self.path));
        self.apply(&params["edits"]);
        self.rev = params["rev"].as_u64().unwrap();
    }

    /// Sets this editor's selections (UTF-16 ranges); no edit may be
    /// unanswered.
    pub fn select(&mut self, ranges: &[(usize, usize)]) {
        assert!(self.waiting.is_empty(), "settle first");
        let selections: Vec<Value> = ranges.iter().map(|(start, end)| json!({ "start": start, "end": end })).collect();
        self.client.call("presence/set", json!({ "path": self.path, "selections": selections }));
    }

    /// The params of the notes of `method` received.
    pub fn notes_of(&self, method: &str) -> Vec<&Value> {
        self.notes.iter().filter(|n| n["method"] == method).map(|n| &n["params"]).collect()
    }

    /// Handles messages until every edit sent is answered.
    pub fn settle(&mut self) {
        while !self.waiting.is_empty() {
            self.pump();
        }
    }
}

/// Waits until the daemon at `socket` has the file `path` (it comes from
/// a peer).
pub fn wait_for_file(socket: &Path, path: &str) {
    let deadline = std::time::Instant::now() + PATIENCE;
    let mut client = Client::connect(socket);
    while client.request("buffer/open", json!({ "path": path })).get("error").is_some() {
        assert!(std::time::Instant::now() < deadline, "{path} never arrived");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
