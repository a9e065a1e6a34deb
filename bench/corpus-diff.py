#!/usr/bin/python3
"""Minimal-diff comparison over the corpus, for bench/run.sh.

    corpus-diff.py --corpus DIR --tmp DIR --kpin ./kpin
                   [--ruamel] [--node NODE] [--results FILE] [-v]

For every file under the corpus (read-only: everything is copied to --tmp
first) and every images entry of it (names read with ruamel.yaml's safe
loader; files it cannot load are skipped and counted), each tool sets that
entry's digest to a fresh valid sha256:

  ruamel   bench/ruamel-set.py --batch   (with --ruamel)
  yaml     node bench/yaml-set.mjs --batch  (with --node)
  kpin     KPIN set -f COPY --image NAME --digest D, one process per edit

An edit is minimal when the byte diff against the input is exactly the
digest value replaced, or exactly one inserted line (or, in a flow mapping,
one inserted ", digest: D") when the entry had no digest: difflib on lines
(each keeping its own "\\r\\n" or "\\n", the last one possibly none) finds a
single change of one line or a single added line, every other byte is
identical, an inserted line ends like its neighbours, and the new file read
back gives the entry that digest. Prints the counts for each tool out of the
total, and appends key=value lines to --results.
"""
import argparse
import difflib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time

from ruamel.yaml import YAML

HERE = os.path.dirname(os.path.abspath(__file__))
NULLS = (b"", b"~", b"null", b"Null", b"NULL")


def split_lines(data):
    return re.findall(rb"[^\n]*\n|[^\n]+$", data)


def safe_load(data):
    yaml = YAML(typ="safe", pure=True)
    return yaml.load(data)


def entries_of(doc):
    """[(index, entry)] of the images list, [] when there is none."""
    if not isinstance(doc, dict):
        return []
    images = doc.get("images")
    if not isinstance(images, list):
        return []
    return [(i, e) for i, e in enumerate(images) if isinstance(e, dict)]


def old_digests(entry):
    """The texts the digest replaces: the digest value, or tag@digest's part."""
    olds = []
    d = entry.get("digest")
    if d is not None:
        olds.append(str(d).encode("utf-8"))
    t = entry.get("newTag")
    if isinstance(t, str) and "@" in t:
        olds.append(t.split("@", 1)[1].encode("utf-8"))
    return olds


def eol(line):
    if line.endswith(b"\r\n"):
        return b"\r\n"
    if line.endswith(b"\n"):
        return b"\n"
    return b""


def changed_line_ok(old, new, d, olds):
    if new.count(d) != 1:
        return False
    a, b = new.split(d)
    for x in list(olds) + list(NULLS):
        if old == a + x + b:
            return True
    # "digest:" with nothing after it, filled in as "digest: D"
    if a.endswith(b" ") and old == a[:-1] + b:
        return True
    # flow mapping: ", digest: D" inserted before "}"
    m = re.search(rb",[ \t]*digest:[ \t]*(['\"]?)$", a)
    if m and b.startswith(m.group(1)):
        return old == a[:m.start()] + b[len(m.group(1)):]
    return False


DIGEST_LINE = rb"[ \t]*(?:-[ \t]+)?digest:[ \t]*(['\"]?)%s\1[ \t]*(\r?\n)?"


def inserted_line_ok(line, d, neighbour):
    if not re.fullmatch(DIGEST_LINE % re.escape(d), line):
        return False
    return neighbour is None or eol(line) == eol(neighbour) or \
        eol(neighbour) == b""


def diff_is_minimal(orig, new, d, olds):
    a, b = split_lines(orig), split_lines(new)
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    ops = [op for op in sm.get_opcodes() if op[0] != "equal"]
    if len(ops) != 1:
        return False
    tag, i1, i2, j1, j2 = ops[0]
    if tag == "replace" and i2 - i1 == 1 and j2 - j1 == 1:
        return changed_line_ok(a[i1], b[j1], d, olds)
    if tag == "insert" and j2 - j1 == 1:
        neighbour = b[j1 - 1] if j1 > 0 else (b[j1 + 1] if j1 + 1 < len(b)
                                              else None)
        return not olds and inserted_line_ok(b[j1], d, neighbour)
    # after a last line without a final newline: that line gains the
    # file's line ending and the inserted line has none, as before
    if tag == "replace" and i2 - i1 == 1 and j2 - j1 == 2 and \
            i2 == len(a) and j2 == len(b) and eol(a[i1]) == b"":
        prev = a[i1 - 1] if i1 > 0 else b"\n"
        return not olds and b[j1] == a[i1] + eol(prev) and \
            eol(b[j1 + 1]) == b"" and inserted_line_ok(b[j1 + 1], d, None)
    return False


def entry_reads_back(new, index, d):
    try:
        doc = safe_load(new)
    except Exception:  # noqa: BLE001 - unreadable output is not minimal
        return False
    entries = dict(entries_of(doc))
    e = entries.get(index)
    if e is None:
        return False
    if e.get("digest") == d:
        return True
    t = e.get("newTag")
    return "digest" not in e and isinstance(t, str) and t.endswith("@" + d)


def fresh_digest(rel, index):
    h = hashlib.sha256(("kpin-bench\0%s\0%d" % (rel, index)).encode())
    return "sha256:" + h.hexdigest()


def run_kpin(argv):
    """Run kpin; retry briefly if the binary is being rebuilt under us."""
    for attempt in range(5):
        try:
            return subprocess.run(argv, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, check=False)
        except OSError as e:
            if attempt == 4:
                sys.exit("corpus-diff: cannot run %s: %s" % (argv[0], e))
            time.sleep(1)
    return None


def collect(corpus):
    files = []
    for root, dirs, names in os.walk(corpus):
        dirs.sort()
        for n in sorted(names):
            files.append(os.path.join(root, n))
    return files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--kpin", required=True)
    ap.add_argument("--ruamel", action="store_true")
    ap.add_argument("--node")
    ap.add_argument("--results")
    ap.add_argument("-v", action="store_true", help="list non-minimal edits")
    args = ap.parse_args()

    tmp = os.path.abspath(args.tmp)
    for sub in ("in", "ruamel", "yaml", "kpin"):
        os.makedirs(os.path.join(tmp, sub), exist_ok=True)

    jobs = []  # (rel, input copy, index, name, digest, olds, orig bytes)
    files = collect(args.corpus)
    skipped = []
    unnamed = 0
    for k, path in enumerate(files):
        rel = os.path.relpath(path, args.corpus)
        with open(path, "rb") as f:
            orig = f.read()
        try:
            doc = safe_load(orig)
        except Exception as e:  # noqa: BLE001 - count and go on
            skipped.append((rel, type(e).__name__))
            continue
        copy = os.path.join(tmp, "in", "%04d.yaml" % k)
        with open(copy, "wb") as f:
            f.write(orig)
        for index, entry in entries_of(doc):
            name = entry.get("name")
            if not isinstance(name, str) or not name or "\t" in name or \
                    "\n" in name:
                unnamed += 1
                continue
            jobs.append((rel, copy, index, name, fresh_digest(rel, index),
                         old_digests(entry), orig))

    total = len(jobs)
    print("corpus: %d files, %d skipped (ruamel.yaml cannot load them), "
          "%d images entries%s" %
          (len(files), len(skipped), total,
           ", %d entries without a string name left out" % unnamed
           if unnamed else ""))
    for rel, why in skipped:
        print("  skipped: %s (%s)" % (rel, why))

    def out_path(tool, j):
        return os.path.join(tmp, tool, "%04d.yaml" % j)

    def run_batch(tool, argv):
        jobfile = os.path.join(tmp, tool + "-jobs.tsv")
        with open(jobfile, "w", encoding="utf-8") as f:
            for j, (rel, copy, index, name, d, olds, orig) in enumerate(jobs):
                f.write("%s\t%s\t%s\t%s\n" % (copy, out_path(tool, j), name, d))
        with open(os.path.join(tmp, tool + "-errors.txt"), "wb") as err:
            subprocess.run(argv + [jobfile], stdout=subprocess.DEVNULL,
                           stderr=err, check=False)

    tools = []
    if args.ruamel:
        run_batch("ruamel", ["/usr/bin/python3",
                             os.path.join(HERE, "ruamel-set.py"), "--batch"])
        tools.append("ruamel")
    if args.node:
        run_batch("yaml", [args.node, os.path.join(HERE, "yaml-set.mjs"),
                           "--batch"])
        tools.append("yaml")

    kpin_errors = {}
    for j, (rel, copy, index, name, d, olds, orig) in enumerate(jobs):
        dst = out_path("kpin", j)
        shutil.copyfile(copy, dst)
        p = run_kpin([args.kpin, "set", "-f", dst, "--image", name,
                      "--digest", d])
        if p.returncode != 0:
            os.unlink(dst)
            msg = p.stderr.decode("utf-8", "replace").strip().splitlines()
            kpin_errors[j] = "exit %d: %s" % (p.returncode,
                                             msg[0] if msg else "")
    tools.append("kpin")

    counts = {}
    lines = []
    for tool in tools:
        minimal = failed = 0
        bad = []
        for j, (rel, copy, index, name, d, olds, orig) in enumerate(jobs):
            p = out_path(tool, j)
            if not os.path.exists(p):
                failed += 1
                if tool == "kpin":
                    bad.append("%s [%s] %s" % (rel, name, kpin_errors[j]))
                continue
            with open(p, "rb") as f:
                new = f.read()
            db = d.encode()
            if diff_is_minimal(orig, new, db, olds) and \
                    entry_reads_back(new, index, d):
                minimal += 1
            else:
                bad.append("%s [%s] not minimal" % (rel, name))
        counts[tool] = (minimal, failed)
        print("  %-7s minimal %3d / %d   (failed %d, larger diff %d)" %
              (tool, minimal, total, failed, total - minimal - failed))
        if tool == "kpin" or args.v:
            for line in bad:
                print("    %s: %s" % (tool, line))
        lines.append("corpus_minimal_%s=%d" % (tool, minimal))
        lines.append("corpus_failed_%s=%d" % (tool, failed))

    if args.results:
        with open(args.results, "a", encoding="utf-8") as f:
            f.write("corpus_files=%d\ncorpus_skipped_files=%d\n"
                    "corpus_entries=%d\n" % (len(files), len(skipped), total))
            for line in lines:
                f.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
