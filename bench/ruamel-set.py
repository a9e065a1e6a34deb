#!/usr/bin/python3
"""The ruamel.yaml peer of `kpin set -f`, for bench/run.sh.

    ruamel-set.py FILE NAME DIGEST     set images[name=NAME].digest, rewrite FILE
    ruamel-set.py --batch JOBS         one job per line: IN<TAB>OUT<TAB>NAME<TAB>DIGEST
                                       (read IN, write OUT; a failed job writes
                                       nothing and is reported on stderr)

What a careful script author would write: round-trip mode (the default
YAML()), preserve_quotes, the file read and written as bytes so that ruamel
sees the original line endings, otherwise ruamel's default settings (no
per-file tuning of indentation or line width).
"""
import io
import sys

from ruamel.yaml import YAML


def make_yaml():
    yaml = YAML()  # typ="rt": round trip, keeps comments and key order
    yaml.preserve_quotes = True
    return yaml


def set_digest(yaml, src, name, digest):
    doc = yaml.load(src)
    for entry in doc["images"]:
        if entry.get("name") == name:
            entry["digest"] = digest
            break
    else:
        raise KeyError("no images entry named %s" % name)
    out = io.BytesIO()
    yaml.dump(doc, out)
    return out.getvalue()


def edit(yaml, path_in, path_out, name, digest):
    with open(path_in, "rb") as f:
        src = f.read()
    data = set_digest(yaml, src, name, digest)
    with open(path_out, "wb") as f:
        f.write(data)


def main(argv):
    if len(argv) == 3 and argv[1] == "--batch":
        failed = 0
        with open(argv[2], encoding="utf-8") as jobs:
            for line in jobs:
                line = line.rstrip("\n")
                if not line:
                    continue
                path_in, path_out, name, digest = line.split("\t")
                try:
                    edit(make_yaml(), path_in, path_out, name, digest)
                except Exception as e:  # noqa: BLE001 - report and go on
                    failed += 1
                    msg = str(e).replace("\n", " ")[:200]
                    print("%s\t%s\t%s: %s" % (path_in, name,
                                              type(e).__name__, msg),
                          file=sys.stderr)
        print("ruamel-set: %d job(s) failed" % failed, file=sys.stderr)
        return 0
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    edit(make_yaml(), argv[1], argv[1], argv[2], argv[3])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
