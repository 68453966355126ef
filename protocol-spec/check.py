#!/usr/bin/env python3
"""An independent reader of Memo's protocol, written from protocol-spec/
alone (Python standard library only).

It decodes every vector in vectors/ and compares the result with the
vector's decoded meaning (and refuses Git objects messages out of
bounds), checks the ticket's checksum and the bundle's HMAC, replays each
text-operation sequence (FugueMax in list form, deletes, undo registers)
to the expected text, and recomputes the derived identities (entry ids,
base-snapshot ids, base-text pseudo-replicas) and the names a directory
shows for name conflicts and conflict copies. Exit 0 when everything
matches; otherwise it prints what differs and exits 1.

    python3 protocol-spec/check.py
"""

import base64
import hashlib
import hmac
import json
import pathlib
import sys

VECTORS = pathlib.Path(__file__).resolve().parent / "vectors"
BASE_TEXT = "0000000000008000800000000000" + "0000"  # 00000000-0000-8000-8000-000000000000


class Malformed(Exception):
    pass


class Reader:
    """Postcard's rules (spec: encoding.md)."""

    def __init__(self, data):
        self.data, self.at = data, 0

    def byte(self):
        if self.at >= len(self.data):
            raise Malformed("truncated")
        self.at += 1
        return self.data[self.at - 1]

    def take(self, n):
        if self.at + n > len(self.data):
            raise Malformed("truncated")
        self.at += n
        return self.data[self.at - n:self.at]

    def varint(self):
        value = 0
        for i in range(10):
            b = self.byte()
            value |= (b & 0x7F) << (7 * i)
            if b & 0x80 == 0:
                if value >= 1 << 64:
                    raise Malformed("varint overflows 64 bits")
                return value
        raise Malformed("varint longer than 10 bytes")

    def zigzag(self):
        v = self.varint()
        return (v >> 1) ^ -(v & 1)

    def boolean(self):
        b = self.byte()
        if b > 1:
            raise Malformed("bool is not 0 or 1")
        return b == 1

    def bytes(self):
        return self.take(self.varint())

    def string(self):
        return self.bytes().decode("utf-8")

    def replica(self):
        return self.take(16).hex()

    def uuid(self):
        """A UUID through serde (catch-up messages): a byte string of 16."""
        if self.varint() != 16:
            raise Malformed("a UUID is 16 bytes")
        return self.take(16).hex()

    def end(self):
        if self.at != len(self.data):
            raise Malformed("%d trailing bytes" % (len(self.data) - self.at))


def ident(replica, seq):
    return {"replica": replica, "seq": seq}


def header(r):
    replica = r.replica()
    seq = r.varint()
    lamport = (seq + r.zigzag()) % (1 << 64)
    kind = r.varint()
    return replica, seq, lamport, kind


def own(replica, seq, back):
    if back > seq:
        raise Malformed("reference before the author's first unit")
    return ident(replica, seq - back)


def ref(r, replica, seq, left=None, right=False):
    tag = r.varint()
    if tag == 0:
        return None
    if tag == 1:
        return own(replica, seq, 1)
    if tag == 2:
        return own(replica, seq, r.varint())
    if tag == 3:
        other = r.replica()
        return ident(other, r.varint())
    if tag == 4 and right:
        if left is None:
            raise Malformed("after-left with no left origin")
        return ident(left["replica"], left["seq"] + 1)
    if tag == 5:
        return ident(BASE_TEXT, r.varint())
    raise Malformed("unknown reference tag %d" % tag)


def range_ref(r, replica, seq):
    tag = r.varint()
    if tag == 0:
        back = r.varint()
        start = own(replica, seq, back)
        return {"replica": replica, "seq": start["seq"], "len": r.varint()}
    if tag == 1:
        other = r.replica()
        s = r.varint()
        return {"replica": other, "seq": s, "len": r.varint()}
    if tag == 2:
        s = r.varint()
        return {"replica": BASE_TEXT, "seq": s, "len": r.varint()}
    raise Malformed("unknown range tag %d" % tag)


def text_body(r, kind, replica, seq):
    if kind == 0:
        left = ref(r, replica, seq)
        right = ref(r, replica, seq, left=left, right=True)
        return {"kind": "insert", "left": left, "right": right, "text": r.string()}
    if kind == 1:
        return {"kind": "delete", "targets": [range_ref(r, replica, seq) for _ in range(r.varint())]}
    if kind == 2:
        edits = [range_ref(r, replica, seq) for _ in range(r.varint())]
        return {"kind": "undo", "edits": edits, "undone": r.boolean()}
    units = r.varint()
    return {"kind": "opaque", "number": kind, "units": units, "body": r.bytes().hex()}


def decode_text_op(data):
    r = Reader(data)
    replica, seq, lamport, kind = header(r)
    out = {"replica": replica, "seq": seq, "lamport": lamport}
    out.update(text_body(r, kind, replica, seq))
    r.end()
    return out


def entry_ref(r, replica, seq):
    tag = r.varint()
    if tag == 0:
        return "root"
    if tag == 1:
        back = r.varint()
        if back == 0:
            raise Malformed("reference to no earlier unit")
        return {"created": own(replica, seq, back)}
    if tag == 2:
        other = r.replica()
        return {"created": ident(other, r.varint())}
    if tag == 3:
        return {"derived": r.take(16).hex()}
    raise Malformed("unknown entry tag %d" % tag)


def value_ref(r, replica, seq):
    tag = r.varint()
    if tag == 0:
        return "base"
    if tag == 1:
        back = r.varint()
        if back == 0:
            raise Malformed("reference to no earlier unit")
        return own(replica, seq, back)
    if tag == 2:
        other = r.replica()
        return ident(other, r.varint())
    raise Malformed("unknown value tag %d" % tag)


def pairs(r):
    out = {}
    for _ in range(r.varint()):
        replica = r.replica()
        out[replica] = r.varint()
    return out


def new_entry(r):
    tag = r.varint()
    if tag == 0:
        return {"dir": {"generation": r.varint()}}
    if tag == 1:
        return {"text": {"executable": r.boolean()}}
    if tag == 2:
        content = r.bytes().hex()
        return {"binary": {"content": content, "executable": r.boolean()}}
    if tag == 3:
        return {"symlink": {"target": r.string()}}
    raise Malformed("unknown entry kind %d" % tag)


def tree_body(kind, body, replica, seq):
    r = Reader(body)
    if kind == 16:
        parent = entry_ref(r, replica, seq)
        name = r.string()
        out = {"kind": "create", "parent": parent, "name": name, "entry": new_entry(r)}
    elif kind == 17:
        entry = entry_ref(r, replica, seq)
        parent = entry_ref(r, replica, seq)
        out = {"kind": "move", "entry": entry, "parent": parent, "name": r.string()}
    elif kind == 18:
        entry = entry_ref(r, replica, seq)
        out = {"kind": "delete_entry", "entry": entry, "seen": pairs(r)}
    elif kind == 19:
        entry = entry_ref(r, replica, seq)
        content = r.bytes().hex()
        replaces = [value_ref(r, replica, seq) for _ in range(r.varint())]
        out = {"kind": "set_content", "entry": entry, "content": content, "replaces": replaces}
    elif kind == 20:
        out = {"kind": "set_executable", "file": entry_ref(r, replica, seq), "executable": r.boolean()}
    elif kind == 21:
        commit = r.bytes().hex()
        out = {"kind": "commit", "commit": commit, "version": pairs(r)}
    else:
        commit = r.bytes().hex()
        out = {"kind": "checkout", "commit": commit, "branch": r.string()}
    r.end()
    return out


def decode_tree_op(data):
    r = Reader(data)
    replica, seq, lamport, kind = header(r)
    out = {"replica": replica, "seq": seq, "lamport": lamport, "timeline": r.varint()}
    if kind <= 2:
        out["kind"] = "edit"
        out["file"] = entry_ref(r, replica, seq)
        out["edit"] = text_body(r, kind, replica, seq)
    else:
        units = r.varint()
        body = r.bytes()
        if 16 <= kind <= 22:
            if units != 1:
                raise Malformed("kind %d takes one unit" % kind)
            out.update(tree_body(kind, body, replica, seq))
        else:
            out.update({"kind": "opaque", "number": kind, "units": units, "body": body.hex()})
    r.end()
    return out


def decode_ticket(text):
    text = text.strip()
    if text[:4].lower() != "memo":
        raise Malformed("prefix")
    body = text[4:].upper()
    raw = base64.b32decode(body + "=" * (-len(body) % 8))
    signed, checksum = raw[:-4], raw[-4:]
    if hashlib.sha256(signed).digest()[:4] != checksum:
        raise Malformed("checksum")
    if signed[0] != 1:
        raise Malformed("ticket version %d" % signed[0])
    r = Reader(signed[1:])
    out = {
        "working_copy": r.take(16).hex(),
        "name": r.string(),
        "secret": r.take(32).hex(),
        "base": r.bytes().hex(),
        "addresses": [r.bytes().hex() for _ in range(r.varint())],
    }
    r.end()
    return out


def decode_catchup(name, data):
    r = Reader(data)
    if name.startswith("request"):
        if r.varint() != 0:
            raise Malformed("unknown request")
        version = {}
        for _ in range(r.varint()):
            replica = r.uuid()
            version[replica] = r.varint()
        out = {"message": "have", "version": version}
    elif name.startswith("response"):
        tag = r.varint()
        if tag == 0:
            ops = [r.bytes().hex() for _ in range(r.varint())]
            out = {"message": "ops", "ops": ops, "more": r.boolean()}
        elif tag == 1:
            out = {"message": "busy"}
        else:
            raise Malformed("unknown response")
    else:
        replica = r.uuid()
        seq = r.varint()
        out = {"message": "announcement", "range": {"replica": replica, "seq": seq, "len": r.varint()}}
    r.end()
    return out


def decode_objects(name, data):
    """A Git objects message (spec: messages.md, "Git objects")."""
    r = Reader(data)
    if name.startswith("request"):
        out = {"message": "request"}
        for field in ("want", "have"):
            count = r.varint()
            if count > 256:
                raise Malformed("%d %s ids, over 256" % (count, field))
            ids = [r.bytes() for _ in range(count)]
            if any(len(i) not in (20, 32) for i in ids):
                raise Malformed("a %s id that is not 20 or 32 bytes" % field)
            out[field] = [i.hex() for i in ids]
    else:
        tag = r.varint()
        if tag == 0:
            pack = r.bytes()
            if len(pack) > 256 << 20:
                raise Malformed("a pack over 256 MiB")
            out = {"message": "pack", "pack": pack.hex()}
        elif tag == 1:
            out = {"message": "missing"}
        else:
            raise Malformed("unknown response")
    r.end()
    return out


def decode_bundle(data, working_copy, secret):
    if data[:4] != b"MEMB":
        raise Malformed("not a bundle")
    if data[4] != 1:
        raise Malformed("bundle version %d" % data[4])
    if data[5:21] != working_copy:
        raise Malformed("another working copy's bundle")
    key = hashlib.sha256(b"memo/bundle/v1" + secret).digest()
    body, tag = data[:-32], data[-32:]
    if len(body) < 21 or not hmac.compare_digest(hmac.new(key, body, hashlib.sha256).digest(), tag):
        raise Malformed("tag does not match")
    r = Reader(body[21:])
    ops = []
    for _ in range(r.varint()):
        op = r.bytes()
        decode_tree_op(op)
        ops.append(op.hex())
    r.end()
    return {"ops": ops}


class Text:
    """The text CRDT, one item per character (spec: text.md), with undo
    registers."""

    def __init__(self):
        self.items = []  # [id, left, right, char]
        self.deleters = {}  # character id -> ids of the delete units that target it
        self.units = set()  # the ids of every unit of this document's edits
        self.registers = {}  # unit id -> ((lamport, replica bytes), undone)

    def index(self, ident_):
        for i, item in enumerate(self.items):
            if item[0] == ident_:
                return i
        raise Malformed("unknown character %r" % (ident_,))

    def apply(self, op):
        me = lambda k: (op["replica"], op["seq"] + k)  # noqa: E731
        if op["kind"] == "insert":
            for k, char in enumerate(op["text"]):
                left = op["left"] if k == 0 else {"replica": op["replica"], "seq": op["seq"] + k - 1}
                left = None if left is None else (left["replica"], left["seq"])
                right = None if op["right"] is None else (op["right"]["replica"], op["right"]["seq"])
                self.integrate([me(k), left, right, char])
                self.units.add(me(k))
        elif op["kind"] == "delete":
            k = 0
            for t in op["targets"]:
                for s in range(t["seq"], t["seq"] + t["len"]):
                    self.index((t["replica"], s))
                    self.deleters.setdefault((t["replica"], s), []).append(me(k))
                    self.units.add(me(k))
                    k += 1
        elif op["kind"] == "undo":
            stamp = (op["lamport"], bytes.fromhex(op["replica"]))
            named = [(r["replica"], s) for r in op["edits"] for s in range(r["seq"], r["seq"] + r["len"])]
            if any(unit not in self.units for unit in named):
                raise Malformed("an undo names a unit that is not an edit of this text")
            for unit in named:
                if unit not in self.registers or stamp > self.registers[unit][0]:
                    self.registers[unit] = (stamp, op["undone"])
            self.units.add(me(0))
        elif op["kind"] != "opaque":
            raise Malformed("the sequences hold no %s" % op["kind"])

    def undone(self, unit):
        return unit in self.registers and self.registers[unit][1]

    def visible(self, item):
        if self.undone(item[0]):
            return False
        return all(self.undone(d) for d in self.deleters.get(item[0], []))

    def integrate(self, item):
        n = len(self.items)
        left = -1 if item[1] is None else self.index(item[1])
        right = n if item[2] is None else self.index(item[2])
        dest, scanning, i = left + 1, False, left + 1
        while True:
            if not scanning:
                dest = i
            if i == n or i == right:
                break
            other = self.items[i]
            o_left = -1 if other[1] is None else self.index(other[1])
            o_right = n if other[2] is None else self.index(other[2])
            if o_left < left:
                break
            if o_left == left:
                if o_right < right:
                    scanning = True
                elif o_right == right and bytes.fromhex(item[0][0]) < bytes.fromhex(other[0][0]):
                    break
                else:
                    scanning = False
            i += 1
        self.items.insert(dest, item)

    def text(self):
        return "".join(item[3] for item in self.items if self.visible(item))


def entry_key(entry):
    """An entry id as SHA-256 input (spec: tree.md, derived identities)."""
    if entry == "root":
        return b"\x00"
    if "created" in entry:
        c = entry["created"]
        return b"\x01" + bytes.fromhex(c["replica"]) + c["seq"].to_bytes(8, "little")
    return b"\x02" + bytes.fromhex(entry["derived"])


def derive(parent, name, generation):
    name = name.encode("utf-8")
    data = b"memo/entry/v1" + entry_key(parent) + len(name).to_bytes(8, "little") + name
    return {"derived": hashlib.sha256(data + generation.to_bytes(8, "little")).digest()[:16].hex()}


def base_paths(paths):
    """The derived id of each path of a base snapshot."""
    out = []
    for path in paths:
        entry = "root"
        for name in path.strip("/").split("/"):
            entry = derive(entry, name, 0)
        out.append({"path": path, "id": entry})
    return out


def base_text_replica(blob):
    b = bytearray(hashlib.sha256(b"memo/base-text/v1" + blob).digest()[:16])
    b[6] = (b[6] & 0x0F) | 0x80  # UUID version 8
    b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
    return bytes(b).hex()


def conflict_name(name, replica, taken):
    dot = name.rfind(".")
    stem, ext = (name[:dot], name[dot:]) if dot > 0 else (name, "")
    candidate, n = "%s~%s%s" % (stem, replica[:8], ext), 2
    while candidate in taken:
        candidate, n = "%s~%s-%d%s" % (stem, replica[:8], n, ext), n + 1
    taken.add(candidate)
    return candidate


def directory_names(children):
    """The names one directory shows (spec: tree.md, names): for each
    child, its name and the names of its conflict copies."""
    stamp = lambda c: (c["lamport"], bytes.fromhex(c["replica"]))  # noqa: E731
    groups = {}
    for i, c in enumerate(children):
        groups.setdefault(c["name"], []).append(i)
    taken = set(groups)
    shown, losers = {}, []
    for name in sorted(groups):
        group = sorted(groups[name], key=lambda i: stamp(children[i]))
        shown[group[0]] = name
        losers += [(name, stamp(children[i]), i) for i in group[1:]]
    for name, _, i in sorted(losers):
        shown[i] = conflict_name(name, children[i]["replica"], taken)
    copies, out = [], []
    for i, c in enumerate(children):
        values = sorted(range(len(c["values"])), key=lambda k: stamp(c["values"][k]))
        copies += [(shown[i], stamp(c["values"][k]), i, k) for k in values[:-1]]
    found = {i: [] for i in range(len(children))}
    for name, _, i, k in sorted(copies):
        found[i].append({"value": k, "shown": conflict_name(name, children[i]["values"][k]["replica"], taken)})
    for i, c in enumerate(children):
        out.append({"shown": shown[i], "copies": sorted(found[i], key=lambda x: x["shown"])})
    return out


def main():
    failures, checked = [], 0

    def expect(what, got, want):
        nonlocal checked
        checked += 1
        if got != want:
            failures.append("%s:\n  got  %s\n  want %s" % (what, json.dumps(got), json.dumps(want)))

    def load(name):
        return json.loads((VECTORS / (name + ".json")).read_text())

    for v in load("text_ops"):
        expect("text_ops: " + v["name"], decode_text_op(bytes.fromhex(v["hex"])), v["decoded"])
    for v in load("tree_ops"):
        expect("tree_ops: " + v["name"], decode_tree_op(bytes.fromhex(v["hex"])), v["decoded"])
    for v in load("ticket"):
        expect("ticket: " + v["name"], decode_ticket(v["text"]), v["decoded"])
    for v in load("catchup"):
        expect("catchup: " + v["name"], decode_catchup(v["name"], bytes.fromhex(v["hex"])), v["decoded"])
    for v in load("objects"):
        expect("objects: " + v["name"], decode_objects(v["name"], bytes.fromhex(v["hex"])), v["decoded"])
    # What a receiver MUST refuse: an id of 21 bytes, a trailing byte.
    for what, name, data in [("a 21-byte id", "request", bytes([1, 21]) + bytes(21) + bytes([0])),
                             ("a trailing byte", "response", bytes([1, 0]))]:
        try:
            decode_objects(name, data)
            failures.append("objects: %s was taken" % what)
        except Malformed:
            pass
        checked += 1
    for v in load("bundle"):
        data, wc, secret = bytes.fromhex(v["hex"]), bytes.fromhex(v["working_copy"]), bytes.fromhex(v["secret"])
        expect("bundle: " + v["name"], decode_bundle(data, wc, secret), v["decoded"])
        damaged = bytearray(data)
        damaged[len(data) // 2] ^= 1
        try:
            decode_bundle(bytes(damaged), wc, secret)
            failures.append("bundle: a damaged bundle was taken")
        except Malformed:
            pass
    for v in load("text_sequences"):
        text = Text()
        for op in v["ops"]:
            text.apply(decode_text_op(bytes.fromhex(op)))
        expect("text_sequences: " + v["name"], text.text(), v["text"])
    for v in load("derived_ids"):
        what = "derived_ids: " + v["name"]
        if v["kind"] == "entry":
            expect(what, derive(v["parent"], v["entry_name"], v["generation"]), v["id"])
        elif v["kind"] == "base_paths":
            expect(what, base_paths([p["path"] for p in v["paths"]]), v["paths"])
        elif v["kind"] == "base_text":
            expect(what, base_text_replica(bytes.fromhex(v["blob"])), v["replica"])
        elif v["kind"] == "conflict":
            want = [{"shown": c["shown"], "copies": sorted(c["copies"], key=lambda x: x["shown"])}
                    for c in v["children"]]
            expect(what, directory_names(v["children"]), want)
        else:
            failures.append("%s: unknown kind %s" % (what, v["kind"]))
    # The tree's moves and deletes are not replayed here (its naming rule
    # is, one directory at a time, above): each operation must decode; the
    # expected trees are for implementations of tree.md
    # (core/tests/vectors.rs checks ours).
    for v in load("tree_sequences"):
        for op in v["ops"]:
            try:
                decode_tree_op(bytes.fromhex(op))
            except Malformed as error:
                failures.append("tree_sequences: %s: %s does not decode: %s" % (v["name"], op, error))
        checked += 1

    for failure in failures:
        print(failure)
    print("check.py: %d vectors, %d differ" % (checked, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
