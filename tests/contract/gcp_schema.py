"""Every resource type and argument in infra/gcp/*.tf checked against the Google provider's own
schema, offline.

`terraform validate` needs the provider binary from registry.terraform.io, which this machine and
CI cannot reach; the schema itself ships in a PyPI package: the generated CDK for Terraform
bindings of the Google provider (``cdktf-cdktf-provider-google``), whose jsii assembly lists every
resource (one submodule per type) and every argument of its config (camelCase of the Terraform
name), nested blocks included. The wheel is fetched once with pip into build/tools/schemas (49 MB,
not installed: nothing here imports it) and reduced to a small JSON of the types in use.

A resource type the provider does not have (``google_workflows_workflow_iam_member``: Workflows has
no IAM resource in the provider), or an argument it does not take, fails `terraform plan` on the
first deploy; here it fails the suite.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import zipfile
from pathlib import Path
from typing import Any, Iterator

from .iac import SCHEMAS as CACHE, schema_wheel

PROVIDER = "cdktf-cdktf-provider-google"
VERSION = "16.12.1"  # Terraform provider google 6.x, as generated on 2025-12
ROOT = Path(__file__).resolve().parents[2]
# Terraform's own meta-arguments and blocks: on every resource, in no provider's schema
META = {"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection"}


def _wheel() -> Path:
    return schema_wheel(PROVIDER, VERSION)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _camel(tf_type: str) -> str:
    head, *rest = tf_type.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _assembly() -> dict[str, Any]:
    with zipfile.ZipFile(_wheel()) as z:
        name = next(n for n in z.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(z.read(name))) as t:
            member = next(m for m in t.getmembers() if m.name.endswith("/.jsii"))
            data = t.extractfile(member)
            assert data is not None
            return dict(json.load(data))


def _struct(types: dict[str, Any], fqn: str, depth: int = 0) -> dict[str, Any]:
    """{terraform argument: nested struct (dict) or None} of a config or block interface."""
    out: dict[str, Any] = {}
    for p in types.get(fqn, {}).get("properties", []):
        ref = _fqn_of(p.get("type", {}))
        out[_snake(p["name"])] = _struct(types, ref, depth + 1) if ref and depth < 6 and ref in types else None
    return out


def _fqn_of(t: dict[str, Any]) -> str | None:
    if "fqn" in t:
        return str(t["fqn"])
    if "collection" in t:
        return _fqn_of(t["collection"].get("elementtype", {}))
    if "union" in t:
        return next((f for f in (_fqn_of(x) for x in t["union"].get("types", [])) if f and not f.startswith("cdktf.")), None)
    return None


def schema(kinds: set[tuple[str, str]]) -> dict[str, Any]:
    """{"resource"|"data": {type: arguments}} for the (kind, type) pairs asked; a type the provider
    lacks is absent. Cached per set of types, so the 98 MB assembly is read once."""
    key = sorted(f"{k}:{t}" for k, t in kinds)
    cache = CACHE / f"google-{VERSION}-schema.json"
    if cache.exists():
        doc = json.loads(cache.read_text())
        if doc.get("key") == key:
            return dict(doc["schema"])
    types = _assembly()["types"]
    out: dict[str, dict[str, Any]] = {"resource": {}, "data": {}}
    for kind, tf_type in kinds:
        base = tf_type[len("google_"):] if tf_type.startswith("google_") else tf_type
        module = _camel(("data_google_" + base) if kind == "data" else base)
        config = next((fqn for fqn, t in types.items() if fqn.startswith(f"@cdktf/provider-google.{module}.")
                       and fqn.endswith("Config") and t.get("kind") == "interface"
                       and fqn.count(".") == 2 and fqn.split(".")[-1].lower() == (module + "Config").lower()), None)
        if config is not None:
            out[kind][tf_type] = _struct(types, config)
    CACHE.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"key": key, "schema": out}))
    return out


def blocks(tf: dict[str, Any], kind: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(type, name, body) of each ``resource`` or ``data`` block as hcl2 parsed it (attributes as
    one-item lists, blocks as lists of dicts)."""
    for group in tf.get(kind, []):
        for tf_type, named in group.items():
            for name, body in named.items():
                yield tf_type.strip('"'), name.strip('"'), body


def _check(body: dict[str, Any], allowed: dict[str, Any], where: str, top: bool) -> list[str]:
    out = []
    for arg, value in body.items():
        if arg.startswith("__"):
            continue
        if top and arg in META:
            continue
        if arg == "dynamic":  # dynamic "block" { for_each = ..., content { ... } }: the block's own arguments
            for item in value if isinstance(value, list) else [value]:
                for block, spec in item.items():
                    block = block.strip('"')
                    if block.startswith("__"):
                        continue
                    if not isinstance(allowed.get(block), dict):
                        out.append(f"{where}: the provider has no block {block!r}")
                        continue
                    for content in spec.get("content", []):
                        out += _check(content, allowed[block], f"{where}.{block}", False)
            continue
        if arg not in allowed:
            out.append(f"{where}: the provider has no argument {arg!r}")
            continue
        nested = allowed[arg]
        if isinstance(nested, dict):  # a block: each of its occurrences is a dict of its own arguments
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    out += _check(item, nested, f"{where}.{arg}", False)
    return out


def problems(tf_files: list[Path]) -> list[str]:
    import hcl2  # bc-python-hcl2, which checkov brings (python-hcl2 installs a module of the same name: not both)

    parsed = [(f, hcl2.load(f.open())) for f in tf_files]
    wanted = {(kind, t) for _, doc in parsed for kind in ("resource", "data") for t, _, _ in blocks(doc, kind)}
    known = schema(wanted)
    out: list[str] = []
    for f, doc in parsed:
        for kind in ("resource", "data"):
            for tf_type, name, body in blocks(doc, kind):
                where = f"{f.name}: {kind} {tf_type}.{name}"
                if tf_type not in known[kind]:
                    out.append(f"{where}: the Google provider {VERSION} has no such {kind} type")
                    continue
                out += _check(body, known[kind][tf_type], where, True)
    return out
