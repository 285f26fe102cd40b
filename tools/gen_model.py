#!/usr/bin/env python3
"""Generate crates/model/src/generated.rs from botocore's GuardDuty model.

Why: the model, not memory, is the source of truth for operations, wire names, types and constraints
(the approach of the `s3s` crate). The model generated from is committed as
tools/model/guardduty-service-2.json, with the botocore release it came from in tools/model/botocore-version,
so regenerating and checking need only python3 and no network:

    python3 tools/gen_model.py                 # regenerate from the committed model
    python3 tools/gen_model.py --check         # exit 1 if generated.rs is not what the committed model gives
    python3 tools/gen_model.py 1.44.18         # fetch that botocore release with pip, commit its model, regenerate
    python3 tools/gen_model.py path/to/service-2.json[.gz] [--botocore-version X]   # the same from a file

Every operation of the model is emitted: its row in `OPERATIONS`, its input and output shapes and every
shape they reach, an `Operation` impl binding the input from a request, and a line of
`for_each_operation!`. Every member is an `Option` so that a missing required member becomes our own 400
(from `validate`) rather than a serde error; members bound to the URI or query string are
`#[serde(skip)]` and set by the generated `bind`.
"""
import argparse, difflib, gzip, hashlib, json, os, re, subprocess, sys, tempfile, zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_JSON = os.path.join(ROOT, "tools", "model", "guardduty-service-2.json")
MODEL_VERSION = os.path.join(ROOT, "tools", "model", "botocore-version")
GENERATED = os.path.join(ROOT, "crates", "model", "src", "generated.rs")
WHEEL_MEMBER = "botocore/data/guardduty/2017-11-28/service-2.json"

RUST_KW = set("as break const continue crate else enum extern false fn for if impl in let loop match mod "
              "move mut pub ref return self Self static struct super trait true type unsafe use where while "
              "async await dyn abstract become box do final macro override priv typeof unsized virtual yield try".split())


def snake(name):
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    s = s.lower()
    return "r#" + s if s in RUST_KW else s


def read_model_bytes(path):
    with open(path, "rb") as f:
        data = f.read()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def botocore_version_near(path):
    """The `__version__` of the botocore package `path` lies in, if it does."""
    d = os.path.dirname(os.path.abspath(path))
    while d != os.path.dirname(d):
        init = os.path.join(d, "__init__.py")
        if os.path.basename(d) == "botocore" and os.path.exists(init):
            m = re.search(r"""^__version__\s*=\s*['"]([^'"]+)['"]""", open(init, encoding="utf-8").read(), re.M)
            if m:
                return m.group(1)
        d = os.path.dirname(d)
    return None


def fetch_release(version):
    """The GuardDuty model bytes of botocore `version`, fetched with pip (a wheel, no dependencies)."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                        "-d", tmp, "botocore==%s" % version], check=True)
        wheels = [f for f in os.listdir(tmp) if f.endswith(".whl")]
        if len(wheels) != 1:
            raise SystemExit("expected one botocore wheel, pip left %s" % wheels)
        with zipfile.ZipFile(os.path.join(tmp, wheels[0])) as z:
            names = set(z.namelist())
            for member in (WHEEL_MEMBER, WHEEL_MEMBER + ".gz"):
                if member in names:
                    data = z.read(member)
                    return gzip.decompress(data) if member.endswith(".gz") else data
    raise SystemExit("botocore %s has no %s" % (version, WHEEL_MEMBER))


def generate(model_bytes, botocore_version):
    model = json.loads(model_bytes)
    sha256 = hashlib.sha256(model_bytes).hexdigest()
    shapes, ops = model["shapes"], model["operations"]
    op_names = sorted(ops)

    wanted = []
    seen = set()

    def reach(n):
        if n in seen:
            return
        seen.add(n)
        s = shapes[n]
        for k in ("member", "key", "value"):
            if k in s:
                reach(s[k]["shape"])
        for mm in s.get("members", {}).values():
            reach(mm["shape"])
        if s["type"] == "structure":
            wanted.append(n)

    for op in op_names:
        o = ops[op]
        if "input" in o:
            reach(o["input"]["shape"])
    input_shapes = set(seen)
    for op in op_names:
        o = ops[op]
        if "output" in o:
            reach(o["output"]["shape"])
        for e in o.get("errors", []):
            reach(e["shape"])

    # An operation without an input shape gets an empty input struct, so that every operation has a type
    # to implement `Operation` on; the name must be free.
    unit_inputs = {}
    for op in op_names:
        if "input" not in ops[op]:
            name = op + "Request"
            if name in shapes:
                raise SystemExit("%s has no input, but a shape is already named %s" % (op, name))
            unit_inputs[op] = name
    input_shapes.update(unit_inputs.values())

    def input_of(op):
        return ops[op]["input"]["shape"] if "input" in ops[op] else unit_inputs[op]

    def output_of(op):
        return ops[op]["output"]["shape"] if "output" in ops[op] else None

    inputs = [input_of(op) for op in op_names]
    if len(set(inputs)) != len(inputs):
        raise SystemExit("two operations share an input shape; Operation is implemented on the input type")

    def rust_type(n):
        s = shapes[n]
        t = s["type"]
        if t == "string":
            return "String"
        if t == "boolean":
            return "bool"
        if t == "integer":
            return "i32"
        if t == "long":
            return "i64"
        if t in ("double", "float"):
            return "f64"
        if t == "timestamp":
            return "f64"  # rest-json default: epoch seconds as a JSON number
        if t == "list":
            return "Vec<%s>" % rust_type(s["member"]["shape"])
        if t == "map":
            return "BTreeMap<String, %s>" % rust_type(s["value"]["shape"])
        if t == "structure":
            return n
        raise SystemExit("unknown type %s for %s" % (t, n))

    out = []
    w = out.append
    w("// @generated by tools/gen_model.py from botocore %s's guardduty/2017-11-28/service-2.json" % botocore_version)
    w("// (%s, sha256 %s)." % (model["metadata"]["uid"], sha256))
    w("// Do not edit by hand: change the generator (or the model under tools/model) and run it again.")
    w("#![allow(clippy::all, non_snake_case, unused_imports)]")
    w("use std::collections::BTreeMap;")
    w("use serde::{Deserialize, Serialize};")
    w("use crate::bind::{self, BindError};")
    w("use crate::validate::{join, Validate, Violations};")
    w("use crate::{Operation, OperationSpec};")
    w("")
    w("/// The botocore release whose GuardDuty model this file was generated from.")
    w('pub const BOTOCORE_VERSION: &str = "%s";' % botocore_version)
    w("/// SHA-256 of that model's `service-2.json`.")
    w('pub const MODEL_SHA256: &str = "%s";' % sha256)
    w("")

    # Operations table: the wire layer routes from it.
    w("/// Every operation of the model, by name.")
    w("pub const OPERATIONS: &[OperationSpec] = &[")
    for op in op_names:
        h = ops[op]["http"]
        w('    OperationSpec { name: "%s", method: "%s", request_uri: "%s", response_code: %d },'
          % (op, h["method"], h["requestUri"], h.get("responseCode", 200)))
    w("];")
    w("")

    w("/// Calls `$m!` with one `(Name, snake_name, InputType, OutputType)` per operation, in [`OPERATIONS`]'s")
    w("/// order, so that dispatch tables and service traits follow the model without a list of their own.")
    w("/// The types are paths into this crate; the output of an operation without one is `()`.")
    w("#[macro_export]")
    w("macro_rules! for_each_operation {")
    w("    ($m:ident) => {")
    w("        $m! {")
    for op in op_names:
        outp = output_of(op)
        w("            (%s, %s, $crate::%s, %s)," % (op, snake(op), input_of(op), "$crate::" + outp if outp else "()"))
    w("        }")
    w("    };")
    w("}")
    w("")

    # Enums: the allowed values, for validation and for the domain.
    enums = sorted(n for n in seen if shapes[n]["type"] == "string" and "enum" in shapes[n])
    w("/// Allowed values of each enum shape.")
    w("pub mod enums {")
    for n in enums:
        vals = ", ".join(json.dumps(v) for v in shapes[n]["enum"])
        w("    pub const %s: &[&str] = &[%s];" % (snake(n).upper().replace("R#", ""), vals))
    w("}")
    w("")

    for n in sorted(wanted):
        s = shapes[n]
        members = s.get("members", {})
        required = set(s.get("required", []))
        doc = "Model shape `%s`." % n
        if s.get("exception"):
            doc += " Error, HTTP %s." % s.get("error", {}).get("httpStatusCode")
        w("/// %s" % doc)
        w("#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]")
        w("pub struct %s {" % n)
        names = set()
        for mn, mm in members.items():
            field = snake(mn)
            assert field not in names, (n, mn)
            names.add(field)
            ty = rust_type(mm["shape"])
            if n == "Condition" and ty == "i32":
                # The legacy gt/gte/lt/lte are modelled as 32-bit, but scripts written for GuardDuty pass epoch
                # milliseconds through them (boto3 does not check the range): accept 64-bit values there.
                ty = "i64"
            loc = mm.get("location")
            wire = mm.get("locationName", mn)
            if loc in ("uri", "querystring", "header"):
                w("    /// Bound from the %s (`%s`), not the JSON body." % (loc, wire))
                w("    #[serde(skip)]")
            else:
                w('    #[serde(rename = "%s", default, skip_serializing_if = "Option::is_none")]' % wire)
            w("    pub %s: Option<%s>," % (field, ty))
        w("}")
        w("")
        if n not in input_shapes:
            continue
        # Validation from the model's constraints.
        w("impl Validate for %s {" % n)
        w("    fn validate(&self, path: &str, v: &mut Violations) {")
        w("        let _ = (path, &v);")
        for mn, mm in members.items():
            field = snake(mn)
            wire = mm.get("locationName", mn)
            p = 'join(path, "%s")' % wire
            if mn in required:
                w("        if self.%s.is_none() { v.missing(&%s); }" % (field, p))
            chk = check_expr(shapes, mm["shape"], "x", p)
            if chk.strip():
                w("        if let Some(x) = &self.%s { %s }" % (field, chk))
        w("    }")
        w("}")
        w("")

    for op, n in sorted(unit_inputs.items()):
        w("/// The input of `%s`, which the model declares without one: the request body is ignored." % op)
        w("#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]")
        w("pub struct %s {}" % n)
        w("")
        w("impl Validate for %s {" % n)
        w("    fn validate(&self, _path: &str, _v: &mut Violations) {}")
        w("}")
        w("")

    # Binding: each operation's input from the request's URI labels, query string and JSON body.
    for i, op in enumerate(op_names):
        n = input_of(op)
        outp = output_of(op) or "()"
        members = shapes[n].get("members", {}) if n in shapes else {}
        has_body = any("location" not in mm for mm in members.values())
        binds = []  # (field, expression)
        for mn, mm in members.items():
            loc = mm.get("location")
            if loc is None:
                continue
            wire = mm.get("locationName", mn)
            if loc == "uri":
                binds.append((snake(mn), 'bind::label(labels, "%s")' % wire))
            elif loc == "querystring":
                binds.append((snake(mn), query_expr(shapes, mm["shape"], wire, n, mn)))
            else:
                # No GuardDuty input binds a header today; fail loudly rather than leave a member unset.
                raise SystemExit("%s.%s is bound from location %r, which bind does not handle" % (n, mn, loc))
        uses = " ".join(e for _, e in binds)
        labels = "labels" if "labels" in uses else "_labels"
        query = "query" if "query" in uses else "_query"
        body = "body" if has_body else "_body"
        w("impl Operation for %s {" % n)
        w("    const SPEC: &'static OperationSpec = &OPERATIONS[%d];" % i)
        w("    type Output = %s;" % outp)
        w("    fn bind(%s: &[(&str, String)], %s: &[(String, String)], %s: &[u8]) -> Result<Self, BindError> {"
          % (labels, query, body))
        if has_body:
            w("        let %sinput: Self = bind::json_body(body)?;" % ("mut " if binds else ""))
            for field, expr in binds:
                w("        input.%s = %s;" % (field, expr))
            w("        Ok(input)")
        elif binds:
            w("        Ok(%s {" % n)
            for field, expr in binds:
                w("            %s: %s," % (field, expr))
            w("        })")
        else:
            w("        Ok(%s {})" % n if n in unit_inputs.values() else "        Ok(Self::default())")
        w("    }")
        w("}")
        w("")
    return "\n".join(out) + "\n"


def query_expr(shapes, n, wire, owner, member):
    """The Rust expression binding the query-string member `wire` of shape `n`."""
    s = shapes[n]
    t = s["type"]
    if t == "integer":
        return 'bind::query_i32(query, "%s")?' % wire
    if t == "long":
        return 'bind::query_i64(query, "%s")?' % wire
    if t == "string":
        return 'bind::query_string(query, "%s")' % wire
    if t == "list" and shapes[s["member"]["shape"]]["type"] == "string":
        return 'bind::query_strings(query, "%s")' % wire
    raise SystemExit("%s.%s: query-string members of type %s are not bound yet" % (owner, member, t))


def check_expr(shapes, n, var, path):
    """Rust statements checking the value `var` (a reference) of shape `n`."""
    s = shapes[n]
    t = s["type"]
    parts = []
    mn, mx = s.get("min"), s.get("max")
    if t == "string":
        if mn is not None or mx is not None:
            parts.append("v.length(&%s, %s.chars().count(), %s, %s);" % (path, var, opt(mn), opt(mx)))
        if "enum" in s:
            parts.append("v.one_of(&%s, %s, crate::generated::enums::%s);" % (path, var, snake(n).upper().replace("R#", "")))
    elif t in ("integer", "long"):
        if mn is not None or mx is not None:
            parts.append("v.range(&%s, *%s as i64, %s, %s);" % (path, var, opt(mn), opt(mx)))
    elif t == "list":
        if mn is not None or mx is not None:
            parts.append("v.length(&%s, %s.len(), %s, %s);" % (path, var, opt(mn), opt(mx)))
        inner = check_expr(shapes, s["member"]["shape"], "item", 'format!("{}[{}]", %s, i)' % path)
        if inner.strip():
            parts.append("for (i, item) in %s.iter().enumerate() { %s }" % (var, inner))
    elif t == "map":
        if mn is not None or mx is not None:
            parts.append("v.length(&%s, %s.len(), %s, %s);" % (path, var, opt(mn), opt(mx)))
        kin = check_expr(shapes, s["key"]["shape"], "k", 'format!("{}.key", %s)' % path)
        vin = check_expr(shapes, s["value"]["shape"], "val", 'format!("{}.{}", %s, k)' % path)
        if kin.strip() or vin.strip():
            parts.append("for (k, val) in %s.iter() { let _ = (&k, &val); %s %s }" % (var, kin, vin))
    elif t == "structure":
        parts.append("%s.validate(&%s, v);" % (var, path))
    return " ".join(parts)


def opt(x):
    return "None" if x is None else "Some(%d)" % x


def rel(path):
    return os.path.relpath(path, ROOT)


def formatted(text):
    """`text` as `cargo fmt` lays it out with the repository's rustfmt.toml, so that the generated
    file passes the formatting check like every other source file."""
    done = subprocess.run(["rustfmt", "--edition", "2024", "--config-path", ROOT, "--emit", "stdout"],
                          input=text, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit("rustfmt failed on the generated code:\n" + done.stderr)
    return done.stdout


def main():
    ap = argparse.ArgumentParser(description="Generate %s from botocore's GuardDuty model." % rel(GENERATED))
    ap.add_argument("source", nargs="?",
                    help="a botocore version to fetch with pip (1.44.18), or a service-2.json[.gz]; "
                         "default: the committed %s" % rel(MODEL_JSON))
    ap.add_argument("--botocore-version", help="the botocore release a SOURCE file comes from, when it is not "
                                               "inside an installed botocore package")
    ap.add_argument("--check", action="store_true",
                    help="regenerate in memory from the committed model and exit 1 if %s differs" % rel(GENERATED))
    args = ap.parse_args()

    if args.check:
        if args.source:
            ap.error("--check compares against the committed model only")
        want = formatted(generate(read_model_bytes(MODEL_JSON), open(MODEL_VERSION, encoding="utf-8").read().strip()))
        have = open(GENERATED, encoding="utf-8").read() if os.path.exists(GENERATED) else ""
        if have != want:
            diff = list(difflib.unified_diff(have.splitlines(), want.splitlines(), rel(GENERATED), "regenerated",
                                             lineterm="", n=1))
            sys.stderr.write("%s is stale: it is not what tools/gen_model.py generates from %s.\n"
                             "Run `python3 tools/gen_model.py` and commit the result. First differences:\n%s\n"
                             % (rel(GENERATED), rel(MODEL_JSON), "\n".join(diff[:40])))
            sys.exit(1)
        print("%s is up to date with %s (botocore %s)" % (rel(GENERATED), rel(MODEL_JSON), open(MODEL_VERSION).read().strip()))
        return

    if args.source is None:
        model_bytes = read_model_bytes(MODEL_JSON)
        version = open(MODEL_VERSION, encoding="utf-8").read().strip()
    else:
        if re.fullmatch(r"\d+\.\d+\.\d+", args.source) and not os.path.exists(args.source):
            version = args.source
            model_bytes = fetch_release(version)
        else:
            model_bytes = read_model_bytes(args.source)
            version = args.botocore_version or botocore_version_near(args.source)
            if not version:
                ap.error("cannot tell which botocore release %s comes from: pass --botocore-version" % args.source)
        # The generated file must be reproducible from the tree alone (see --check).
        os.makedirs(os.path.dirname(MODEL_JSON), exist_ok=True)
        with open(MODEL_JSON, "wb") as f:
            f.write(model_bytes)
        with open(MODEL_VERSION, "w", encoding="utf-8") as f:
            f.write(version + "\n")
    text = formatted(generate(model_bytes, version))
    with open(GENERATED, "w", encoding="utf-8") as f:
        f.write(text)
    print("wrote %s (botocore %s, %d operations)" % (rel(GENERATED), version, len(json.loads(model_bytes)["operations"])))


if __name__ == "__main__":
    main()
