#!/usr/bin/env python3
"""
What a GitHub runner does with kpin's composite action, on this machine,
for the tests (tests/action.sh, tests/workflows.sh). Three modes:

  runner.py run ACTION [name=value]...
      Run the action's steps as a runner does (actions/runner,
      CompositeActionHandler and ScriptHandler): each `run:` step through
      `bash --noprofile --norc -eo pipefail FILE` in the step's
      working-directory, with the step's `env:` evaluated, a fresh
      GITHUB_OUTPUT file per step whose lines become steps.<id>.outputs,
      and GITHUB_ENV / GITHUB_PATH carried to the later steps. `if:` and
      `${{ }}` are evaluated over the inputs (the name=value arguments,
      else the defaults), github.*, runner.*, env.* and steps.*.
      actions/cache is the one `uses:` step it knows: a directory
      ($RUNNER_TEST_CACHE) stands for the cache service, restored before
      and saved after as actions/cache does. The job's variables
      (GITHUB_WORKSPACE, GITHUB_EVENT_PATH, RUNNER_TEMP, ...) come from
      this program's environment; GITHUB_TOKEN is the job token
      (github.token) and, as on a runner, is not exported to the steps.
      Prints "step NAME: success|skipped|failure" lines and, at the end,
      "output NAME=VALUE" for each of the action's outputs.

  runner.py workflow ACTION
      The action as a workflow actionlint can check (it lints workflows,
      not action metadata): its inputs as workflow_call inputs, its steps
      as a job's steps, its outputs as the job's outputs.

  runner.py scripts FILE DIR
      Write each `run:` script of a workflow or an action to DIR, with
      every ${{ }} replaced by a same-length placeholder (as actionlint
      does before shellcheck), and print "PATH<TAB>WHERE<TAB>EXPR" lines:
      EXPR is 1 when the script's text holds an expression.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.S)


# ---- expressions ---------------------------------------------------------

TOKEN = re.compile(r"\s*(?:(\|\||&&|==|!=|!|\(|\)|\[|\]|\.|,)|'((?:[^']|'')*)'"
                   r"|([A-Za-z_][A-Za-z0-9_-]*)|(-?[0-9]+(?:\.[0-9]+)?))")


def tokens(text):
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            raise ValueError("cannot read expression at %r" % text[pos:])
        op, s, ident, num = m.groups()
        if op:
            out.append(("op", op))
        elif s is not None:
            out.append(("str", s.replace("''", "'")))
        elif ident:
            out.append(("id", ident))
        else:
            out.append(("num", float(num)))
        pos = m.end()
    return out


def text_of(v):
    """A value as a string, as the runner interpolates it."""
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return v if isinstance(v, str) else json.dumps(v)


class Expr:
    """A recursive-descent reader for the expression subset kpin uses."""

    def __init__(self, text, ctx):
        self.t = tokens(text)
        self.i = 0
        self.ctx = ctx

    def peek(self, *ops):
        return self.i < len(self.t) and self.t[self.i] in [("op", o) for o in ops]

    def take(self):
        self.i += 1
        return self.t[self.i - 1]

    def value(self):
        v = self.or_()
        if self.i != len(self.t):
            raise ValueError("trailing tokens in expression: %r" % (self.t[self.i:],))
        return v

    def or_(self):
        v = self.and_()
        while self.peek("||"):
            self.take()
            w = self.and_()
            v = v if truthy(v) else w
        return v

    def and_(self):
        v = self.unary()
        while self.peek("&&"):
            self.take()
            w = self.unary()
            v = w if truthy(v) else v
        return v

    def unary(self):
        if self.peek("!"):
            self.take()
            return not truthy(self.unary())
        v = self.primary()
        if self.peek("==", "!="):
            op = self.take()[1]
            w = self.primary()
            eq = text_of(v).lower() == text_of(w).lower()
            return eq if op == "==" else not eq
        return v

    def primary(self):
        kind, tok = self.take()
        if (kind, tok) == ("op", "("):
            v = self.or_()
            self.take()
            return v
        if kind in ("str", "num"):
            return tok
        if kind != "id":
            raise ValueError("unexpected %r" % tok)
        if tok in ("true", "false"):
            return tok == "true"
        if tok == "null":
            return None
        if self.peek("("):
            self.take()
            while not self.peek(")"):
                self.take()
            self.take()
            if tok in ("success", "always"):
                return True
            if tok in ("failure", "cancelled"):
                return False
            raise ValueError("function %s() is not known here" % tok)
        v = self.ctx.get(tok)
        while self.peek(".", "["):
            if self.take()[1] == ".":
                key = self.take()[1]
            else:
                key = self.take()[1]
                self.take()
            v = v.get(key) if isinstance(v, dict) else None
        return v


def truthy(v):
    return v not in (None, False, "", 0, 0.0)


def interpolate(text, ctx):
    """${{ }} in a string; a value that is only an expression keeps its type."""
    if not isinstance(text, str):
        return text
    m = EXPR.fullmatch(text.strip())
    if m:
        return Expr(m.group(1), ctx).value()
    return EXPR.sub(lambda m: text_of(Expr(m.group(1), ctx).value()), text)


def condition(text, ctx):
    if text is None:
        return True
    if isinstance(text, bool):
        return text
    m = EXPR.fullmatch(text.strip())
    return truthy(Expr(m.group(1) if m else text, ctx).value())


# ---- the runner's files --------------------------------------------------

def read_file_commands(path):
    """name=value and name<<DELIM lines of GITHUB_OUTPUT / GITHUB_ENV."""
    out = {}
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            val = []
            while i < len(lines) and lines[i] != delim:
                val.append(lines[i])
                i += 1
            i += 1
            out[name] = "\n".join(val)
        elif "=" in line:
            name, val = line.split("=", 1)
            out[name] = val
        else:
            raise ValueError("%s: cannot read line %r" % (path, line))
    return out


class Cache:
    """actions/cache against a directory standing for the cache service."""

    def __init__(self, store):
        self.store = store
        self.pending = []

    def restore(self, step_with):
        path, key = step_with["path"], step_with["key"]
        entry = os.path.join(self.store, re.sub(r"[^A-Za-z0-9._-]", "_", key))
        if os.path.isdir(entry):
            shutil.rmtree(path, ignore_errors=True)
            shutil.copytree(entry, path)
            return {"cache-hit": "true"}
        self.pending.append((path, entry))
        return {"cache-hit": "false"}

    def save(self):
        for path, entry in self.pending:
            if os.path.isdir(path):
                shutil.copytree(path, entry)


def run(action_path, args):
    with open(action_path, encoding="utf-8") as f:
        action = yaml.safe_load(f)
    env0 = os.environ
    temp = env0["RUNNER_TEMP"]
    token = env0.get("GITHUB_TOKEN", "")
    # nothing of the make check that runs this reaches the steps
    base = {k: v for k, v in env0.items()
            if not k.startswith("INPUT_") and k not in
            ("GITHUB_TOKEN", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    base["GITHUB_ACTION_PATH"] = os.path.dirname(os.path.abspath(action_path))
    base.setdefault("GITHUB_ACTIONS", "true")
    base.setdefault("CI", "true")
    for name in ("GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY"):
        base[name] = os.path.join(temp, "_runner_file_" + name.lower())
        open(base[name], "a").close()
    given = dict(a.split("=", 1) for a in args)
    ctx = {
        "github": {k[7:].lower(): v for k, v in base.items()
                   if k.startswith("GITHUB_")},
        "runner": {k[7:].lower(): v for k, v in base.items()
                   if k.startswith("RUNNER_")},
        "steps": {},
        "env": {},
    }
    ctx["github"]["token"] = token
    if base.get("GITHUB_EVENT_PATH"):
        with open(base["GITHUB_EVENT_PATH"], encoding="utf-8") as f:
            ctx["github"]["event"] = json.load(f)
    ctx["github"]["action_path"] = base["GITHUB_ACTION_PATH"]
    inputs = {}
    for name, spec in (action.get("inputs") or {}).items():
        if name in given:
            inputs[name] = given.pop(name)
        else:
            inputs[name] = text_of(interpolate((spec or {}).get("default", ""), ctx))
    if given:
        raise SystemExit("runner.py: not an input of the action: %s" % ", ".join(given))
    ctx["inputs"] = inputs
    cache = Cache(env0["RUNNER_TEST_CACHE"])
    ok = True
    for n, step in enumerate(action["runs"]["steps"]):
        name = step.get("name") or step.get("id") or "step %d" % (n + 1)
        ctx["env"] = dict(read_file_commands(base["GITHUB_ENV"]))
        if not condition(step.get("if"), ctx):
            print("step %s: skipped" % name, flush=True)
            continue
        outputs = {}
        if "uses" in step:
            if not step["uses"].startswith("actions/cache@"):
                raise SystemExit("runner.py: cannot run %s" % step["uses"])
            outputs = cache.restore({k: text_of(interpolate(v, ctx))
                                     for k, v in step.get("with", {}).items()})
        else:
            outputs, rc = run_script(step, base, ctx, temp)
            if rc:
                print("step %s: failure (exit %d)" % (name, rc), flush=True)
                ok = False
                break
        if step.get("id"):
            ctx["steps"][step["id"]] = {"outputs": outputs, "outcome": "success"}
        print("step %s: success" % name, flush=True)
    if ok:
        cache.save()
    for name, spec in (action.get("outputs") or {}).items():
        print("output %s=%s" % (name, text_of(interpolate(spec["value"], ctx))))
    return 0 if ok else 1


def run_script(step, base, ctx, temp):
    """One run: step, as the runner's ScriptHandler runs a bash step."""
    if step.get("shell") != "bash":
        raise SystemExit("runner.py: a composite run step needs shell: bash")
    env = dict(base)
    env.update(read_file_commands(base["GITHUB_ENV"]))
    with open(base["GITHUB_PATH"], encoding="utf-8") as f:
        extra = [p for p in f.read().split("\n") if p]
    if extra:
        env["PATH"] = ":".join(reversed(extra)) + ":" + env["PATH"]
    for k, v in (step.get("env") or {}).items():
        env[k] = text_of(interpolate(v, ctx))
    fd, script = tempfile.mkstemp(suffix=".sh", dir=temp)
    with os.fdopen(fd, "w") as f:
        f.write(text_of(interpolate(step["run"], ctx)))
    fd, out = tempfile.mkstemp(dir=temp)
    os.close(fd)
    env["GITHUB_OUTPUT"] = out
    cwd = interpolate(step.get("working-directory"), ctx) or env["GITHUB_WORKSPACE"]
    cwd = os.path.join(env["GITHUB_WORKSPACE"], cwd)
    rc = subprocess.call(["bash", "--noprofile", "--norc", "-eo", "pipefail",
                          script], env=env, cwd=cwd, stdin=subprocess.DEVNULL)
    outputs = read_file_commands(out)
    os.unlink(script)
    os.unlink(out)
    return outputs, rc


# ---- for the linters -----------------------------------------------------

def as_workflow(action_path):
    with open(action_path, encoding="utf-8") as f:
        action = yaml.safe_load(f)
    inputs = {}
    for name, spec in (action.get("inputs") or {}).items():
        inputs[name] = {"type": "string", "required": bool((spec or {}).get("required"))}
        if "description" in (spec or {}):
            inputs[name]["description"] = spec["description"]
    wf = {
        "name": action.get("name", "action"),
        "on": {"workflow_call": {"inputs": inputs}},
        "jobs": {"action": {
            "runs-on": "ubuntu-latest",
            "outputs": {k: v["value"] for k, v in (action.get("outputs") or {}).items()},
            "steps": action["runs"]["steps"],
        }},
    }
    if action["runs"].get("using") != "composite":
        raise SystemExit("runner.py: %s is not a composite action" % action_path)
    return yaml.safe_dump(wf, sort_keys=False, width=1000)


def run_steps(doc):
    """(where, step) for every step of a workflow's jobs or an action."""
    if "runs" in doc:
        for i, s in enumerate(doc["runs"].get("steps") or []):
            yield "runs.steps[%d]" % i, s
        return
    for job, spec in (doc.get("jobs") or {}).items():
        for i, s in enumerate(spec.get("steps") or []):
            yield "jobs.%s.steps[%d]" % (job, i), s


def scripts(path, outdir):
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    n = 0
    for where, step in run_steps(doc):
        if "run" not in step:
            continue
        text = step["run"]
        has = 1 if EXPR.search(text) else 0
        text = EXPR.sub(lambda m: "_" * len(m.group(0)), text)
        n += 1
        out = os.path.join(outdir, "%s.%d.sh" % (os.path.basename(path), n))
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)
        name = step.get("name", "")
        print("%s\t%s %s (%s)\t%d" % (out, path, where, name, has))


def main(argv):
    if len(argv) >= 2 and argv[0] == "run":
        return run(argv[1], argv[2:])
    if len(argv) == 2 and argv[0] == "workflow":
        sys.stdout.write(as_workflow(argv[1]))
        return 0
    if len(argv) == 3 and argv[0] == "scripts":
        scripts(argv[1], argv[2])
        return 0
    sys.stderr.write("usage: runner.py run ACTION [input=value]... | "
                     "workflow ACTION | scripts FILE DIR\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
