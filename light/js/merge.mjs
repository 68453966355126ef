// The light client's side of light/tests/node.rs: a Node.js replica merges
// with a native one through bundles.
//
//   node merge.mjs <memo_light.wasm> <ticket> <dir>
//
// <dir> holds first.memo (the native replica's work) and concurrent.memo
// (what it did after, which this side has not seen when it edits). This
// script takes first.memo, edits concurrently, writes what it made to
// light.memo, takes concurrent.memo, and prints its files as JSON.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadLight } from "./memo-light.mjs";

const [wasm, ticket, dir] = process.argv.slice(2);
const light = await loadLight(readFileSync(wasm));
// The commit both sides stand on: its content is never sent.
const replica = light.replica(ticket, [{ path: "README.md", content: "Memo\n" }]);
const check = (what, got, want) => {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
};

const first = replica.applyBundle(readFileSync(join(dir, "first.memo")));
check("first bundle", first.refused + first.waiting, 0);
check("the native text", replica.read("docs/notes.txt"), "hello world\n");
check("the base file, edited natively", replica.read("README.md"), "Memo\nlight client\n");
check("a bundle taken twice", replica.applyBundle(readFileSync(join(dir, "first.memo"))).applied, 0);

// Concurrent edits: offsets are UTF-16 units, as in JavaScript strings.
replica.edit("docs/notes.txt", 0, 0, "🎉 ");
const notes = replica.read("docs/notes.txt");
replica.edit("docs/notes.txt", notes.indexOf("world"), notes.indexOf("world"), "big ");
replica.edit("README.md", 0, 4, "MEMO");
replica.edit("light/new.txt", 0, 0, "made in Node.js\n");
check("open makes a missing file", replica.open("scratch.txt"), "");
const version = replica.version();
const mine = replica.takeBundle();
writeFileSync(join(dir, "light.memo"), mine);
check("nothing new to take", replica.takeBundle().length < mine.length, true);
check("everything since a version taken now", replica.takeBundleSince(version).length < mine.length, true);

const concurrent = replica.applyBundle(readFileSync(join(dir, "concurrent.memo")));
check("concurrent bundle", concurrent.refused + concurrent.waiting, 0);
const files = {};
for (const path of replica.list()) {
  if (path.endsWith(".txt") || path.endsWith(".md")) {
    files[path] = replica.read(path);
  }
}
let refused = null;
try {
  replica.applyBundle(new Uint8Array([1, 2, 3]));
} catch (error) {
  refused = error.message;
}
console.log(JSON.stringify({ paths: replica.list(), files, first, concurrent, refused }));
