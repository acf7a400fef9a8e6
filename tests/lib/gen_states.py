#!/usr/bin/env python3
"""gen_states.py — Terraform v4 states that look like real ones, and the index
they must produce.

    gen_states.py OUTDIR --workspaces N --instances M [--small-workspaces K]
                  [--small-instances L] [--seed S] [--prefix P]

Writes OUTDIR/ws-<i>.tfstate (i = 0..N+K-1, workspace names "<P><i>"; the
first N with M instances each, the K small ones with 4 to L each),
OUTDIR/sources.json (the JSON list for state_loader.local_files) and
OUTDIR/expected.tsv: one line per identifier the index must hold,
"field<TAB>workspace<TAB>address<TAB>type" (the field is the identifier
scoped by account and region, tfdrift/redis_keys.h: every state is in
ACCOUNT, the regional types in REGION), and OUTDIR/instances.tsv,
"workspace<TAB>address" of every indexed instance; both computed from
libcommon/src/domain/identifiers.tsv independently of the C code (first
claim wins: workspace order, then file order).

Real states are mostly small objects: a security group rule, a role policy
attachment, a log group are a few hundred bytes; an instance is a few KB; an
IAM or KMS policy document several KB; user_data or a Lambda environment now
and then tens of KB.  The generator draws every attribute size from that
spread (1 byte to ~150 KB) so that neither a byte limit nor a count limit is
the only one a writer ever meets.  Resources come with count and for_each
(indexed addresses), modules, dependencies, data sources and deposed
instances (which are not indexed), over many types.
"""
import argparse
import json
import os
import random
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RULES_TSV = os.path.join(ROOT, "libcommon", "src", "domain", "identifiers.tsv")
ACCOUNT = "123456789012"
REGION = "eu-west-1"
# account-global types (identifiers.c, idx_type_global): indexed without a region
GLOBAL_PREFIXES = ("aws_iam_", "aws_s3_", "aws_cloudfront_", "aws_route53_",
                   "aws_organizations_", "aws_budgets_", "aws_ce_", "aws_shield_",
                   "aws_globalaccelerator_", "aws_waf_", "aws_account_")
REGIONAL_EXCEPTIONS = ("aws_route53_resolver_", "aws_s3_access_point", "aws_s3_directory_bucket")


def field(typ, ident):
    """The index field of an identifier of typ in ACCOUNT (and REGION)."""
    glob = typ.startswith(GLOBAL_PREFIXES) and not typ.startswith(REGIONAL_EXCEPTIONS)
    return "@%s:%s:%s" % (ACCOUNT, "" if glob else REGION, ident)


def load_rules():
    rules = {}
    with open(RULES_TSV) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            typ, specs = line.split("\t", 1)
            rules[typ] = specs.split()
    return rules


def identifiers(rules, typ, attrs):
    """The identifiers index.c derives, in its order, duplicates once."""
    out = []
    for spec in rules.get(typ, ["id", "arn", "name"]):
        scoped = spec.startswith("=")
        parts = (spec[1:] if scoped else spec).split("+")
        vals = []
        for p in parts:
            v = attrs.get(p)
            if not isinstance(v, str) or v == "" or v == "(sensitive)":
                vals = None
                break
            vals.append(v)
        if vals is None:
            continue
        v = "/".join(vals)
        if scoped:
            v = typ + ":" + v
        if v not in out:
            out.append(v)
    return out


class Gen:
    def __init__(self, rnd, ws):
        self.r = rnd
        self.ws = ws
        self.n = 0

    def uid(self, width=17):
        self.n += 1
        return ("%x%06x" % (self.ws, self.n)).rjust(width, "0")[-width:]

    def size(self):
        """A payload size: mostly small, sometimes large, now and then huge."""
        x = self.r.random()
        if x < 0.55:
            return self.r.randint(1, 200)
        if x < 0.85:
            return self.r.randint(200, 3000)
        if x < 0.97:
            return self.r.randint(3000, 20000)
        return self.r.randint(20000, 150000)

    def blob(self, n):
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
        return "".join(self.r.choice(alphabet) for _ in range(min(n, 64))) * (n // 64 + 1)

    def policy(self):
        stmts = []
        target = self.size()
        length = 2  # len(json.dumps(stmts)), kept as it grows: "[" a ", " b "]"
        while length < target:
            stmts.append({
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket", "kms:Decrypt"][: self.r.randint(1, 3)],
                "Resource": "arn:aws:s3:::bucket-%s/*" % self.uid(8),
            })
            length += len(json.dumps(stmts[-1])) + (2 if len(stmts) > 1 else 0)
        return json.dumps({"Version": "2012-10-17", "Statement": stmts})

    def tags(self):
        t = {"Team": "platform", "Env": "prod"}
        for i in range(self.r.randint(0, 6)):
            t["k%d" % i] = "v" * self.r.randint(1, 40)
        return t


def make_attrs(g, typ, ws_name, vpc_id, subnet_id):
    arnp = "arn:aws:%s:" + REGION + ":" + ACCOUNT + ":"
    u = g.uid()
    if typ == "aws_vpc":
        return {"id": "vpc-" + u, "arn": arnp % "ec2" + "vpc/vpc-" + u,
                "cidr_block": "10.0.0.0/16", "tags": g.tags()}
    if typ == "aws_subnet":
        return {"id": "subnet-" + u, "arn": arnp % "ec2" + "subnet/subnet-" + u,
                "vpc_id": vpc_id, "cidr_block": "10.0.1.0/24",
                "availability_zone": REGION + "a", "tags": g.tags()}
    if typ == "aws_security_group":
        rules = [{"from_port": 443, "to_port": 443, "protocol": "tcp",
                  "cidr_blocks": ["10.%d.0.0/16" % i], "description": "d" * g.r.randint(0, 60)}
                 for i in range(g.r.randint(0, 40))]
        return {"id": "sg-" + u, "arn": arnp % "ec2" + "security-group/sg-" + u,
                "name": "sg-%s-%s" % (ws_name.replace("/", "-"), u), "vpc_id": vpc_id,
                "ingress": rules, "egress": [], "tags": g.tags()}
    if typ == "aws_instance":
        return {"id": "i-" + u, "arn": arnp % "ec2" + "instance/i-" + u,
                "ami": "ami-0abcdef1234567890", "instance_type": "t3.micro",
                "subnet_id": subnet_id, "vpc_security_group_ids": [],
                "user_data": g.blob(g.size()) if g.r.random() < 0.5 else None,
                "root_block_device": [{"volume_size": 20, "volume_type": "gp3"}],
                "tags": g.tags(), "instance_state": "running"}
    if typ == "aws_network_interface":
        return {"id": "eni-" + u, "arn": arnp % "ec2" + "network-interface/eni-" + u,
                "subnet_id": subnet_id, "private_ips": ["10.0.1.%d" % g.r.randint(1, 250)]}
    if typ == "aws_iam_role":
        name = "role-%s" % u
        return {"id": name, "name": name, "arn": "arn:aws:iam::%s:role/%s" % (ACCOUNT, name),
                "unique_id": "AROA" + u.upper(), "assume_role_policy": g.policy(),
                "managed_policy_arns": [], "tags": g.tags()}
    if typ == "aws_iam_policy":
        name = "policy-%s" % u
        arn = "arn:aws:iam::%s:policy/%s" % (ACCOUNT, name)
        return {"id": arn, "arn": arn, "name": name, "policy": g.policy(),
                "policy_id": "ANPA" + u.upper()}
    if typ == "aws_iam_role_policy_attachment":
        return {"id": "role-%s-2024" % u, "role": "role-%s" % u,
                "policy_arn": "arn:aws:iam::aws:policy/ReadOnly%s" % u}
    if typ == "aws_s3_bucket":
        b = "bucket-%s" % u
        return {"id": b, "bucket": b, "arn": "arn:aws:s3:::" + b, "tags": g.tags()}
    if typ == "aws_s3_bucket_policy":
        return {"id": "pbucket-%s" % u, "bucket": "pbucket-%s" % u, "policy": g.policy()}
    if typ == "aws_lambda_function":
        fn = "fn-%s" % u
        return {"id": fn, "function_name": fn,
                "arn": arnp % "lambda" + "function:" + fn, "runtime": "python3.12",
                "environment": [{"variables": {"CONFIG": g.blob(g.size())}}]}
    if typ == "aws_sqs_queue":
        q = "queue-%s" % u
        url = "https://sqs.%s.amazonaws.com/%s/%s" % (REGION, ACCOUNT, q)
        return {"id": url, "url": url, "name": q, "arn": arnp % "sqs" + q}
    if typ == "aws_sns_topic":
        arn = arnp % "sns" + "topic-" + u
        return {"id": arn, "arn": arn, "name": "topic-" + u, "policy": g.policy()}
    if typ == "aws_db_instance":
        return {"id": "db-" + u.upper(), "identifier": "db-%s" % u,
                "resource_id": "db-" + u.upper(), "arn": arnp % "rds" + "db:db-" + u,
                "engine": "postgres", "password": "(sensitive)"}
    if typ == "aws_cloudwatch_log_group":
        n = "/aws/app/%s" % u
        return {"id": n, "name": n, "arn": arnp % "logs" + "log-group:" + n,
                "retention_in_days": 30}
    if typ == "aws_kms_key":
        return {"id": "key-" + u, "key_id": "key-" + u, "arn": arnp % "kms" + "key/key-" + u,
                "policy": g.policy()}
    if typ == "aws_dynamodb_table":
        return {"id": "tbl-" + u, "name": "tbl-" + u, "arn": arnp % "dynamodb" + "table/tbl-" + u,
                "attribute": [{"name": "pk", "type": "S"}]}
    if typ == "aws_route53_record":
        name = "r%s.example.com" % u
        return {"id": "Z%s_%s_A" % (u.upper(), name), "zone_id": "Z" + u.upper(), "name": name,
                "fqdn": name, "type": "A", "records": ["10.0.0.1"], "ttl": 300}
    raise ValueError(typ)


TYPES = [
    "aws_security_group", "aws_instance", "aws_network_interface", "aws_iam_role",
    "aws_iam_policy", "aws_iam_role_policy_attachment", "aws_s3_bucket",
    "aws_s3_bucket_policy", "aws_lambda_function", "aws_sqs_queue", "aws_sns_topic",
    "aws_db_instance", "aws_cloudwatch_log_group", "aws_kms_key", "aws_dynamodb_table",
    "aws_route53_record",
]


def make_state(rnd, rules, wi, ws_name, ninst):
    g = Gen(rnd, wi)
    resources, claims = [], []
    provider = 'provider["registry.terraform.io/hashicorp/aws"]'

    def add(typ, name, insts, module=None, mode="managed"):
        res = {"mode": mode, "type": typ, "name": name, "provider": provider,
               "instances": insts}
        if module:
            res["module"] = module
        resources.append(res)
        if mode != "managed":
            return
        base = (module + "." if module else "") + typ + "." + name
        for inst in insts:
            if "deposed" in inst:
                continue
            addr = base
            if "index_key" in inst:
                k = inst["index_key"]
                addr += "[%d]" % k if isinstance(k, int) else '["%s"]' % k
            claims.append((addr, typ, identifiers(rules, typ, inst["attributes"])))

    vpc = make_attrs(g, "aws_vpc", ws_name, None, None)
    add("aws_vpc", "main", [{"schema_version": 1, "attributes": vpc}], module="module.network")
    subnets = []
    for i in range(3):
        subnets.append({"schema_version": 1, "index_key": i,
                        "attributes": make_attrs(g, "aws_subnet", ws_name, vpc["id"], None),
                        "dependencies": ["module.network.aws_vpc.main"]})
    add("aws_subnet", "private", subnets, module="module.network")
    add("aws_ami", "ubuntu", [{"schema_version": 0, "attributes": {"id": "ami-0abc"}}],
        mode="data")
    made = 4
    k = 0
    while made < ninst:
        typ = TYPES[(wi + k) % len(TYPES)] if rnd.random() < 0.7 else rnd.choice(TYPES)
        k += 1
        count = min(ninst - made, rnd.choice([1, 1, 1, 2, 3, 5, 12]))
        style = rnd.choice(["count", "for_each"]) if count > 1 else "single"
        insts = []
        for i in range(count):
            a = make_attrs(g, typ, ws_name, vpc["id"], subnets[i % 3]["attributes"]["id"])
            inst = {"schema_version": 0, "attributes": a,
                    "sensitive_attributes": [], "dependencies": ["module.network.aws_subnet.private"]}
            if "password" in a:
                inst["sensitive_attributes"] = [[{"type": "get_attr", "value": "password"}]]
            if style == "count":
                inst["index_key"] = i
            elif style == "for_each":
                inst["index_key"] = "k%d" % i
            insts.append(inst)
        if rnd.random() < 0.02:
            d = dict(insts[0])
            d["deposed"] = "%08x" % rnd.getrandbits(32)
            insts.append(d)
        module = rnd.choice([None, None, "module.app", "module.data"])
        add(typ, "r%d" % k, insts, module=module)
        made += count
    state = {"version": 4, "terraform_version": "1.9.8", "serial": 1 + wi,
             "lineage": "00000000-0000-4000-8000-%012x" % wi, "outputs": {},
             "resources": resources, "check_results": None}
    return state, claims


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--workspaces", type=int, required=True)
    ap.add_argument("--instances", type=int, required=True, help="per workspace (at least 4)")
    ap.add_argument("--small-workspaces", type=int, default=0)
    ap.add_argument("--small-instances", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--prefix", default="org/ws-")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    rules = load_rules()
    os.makedirs(a.outdir, exist_ok=True)
    sources, claimed, total = [], {}, 0
    sizes = [max(4, a.instances)] * a.workspaces
    sizes += [rnd.randint(4, max(4, a.small_instances)) for _ in range(a.small_workspaces)]
    with open(os.path.join(a.outdir, "expected.tsv"), "w") as exp, \
            open(os.path.join(a.outdir, "instances.tsv"), "w") as insts:
        for wi, ninst in enumerate(sizes):
            name = "%s%d" % (a.prefix, wi)
            state, claims = make_state(rnd, rules, wi, name, ninst)
            path = os.path.join(a.outdir, "ws-%d.tfstate" % wi)
            with open(path, "w") as f:
                json.dump(state, f, indent=2)
            sources.append("%s=%s" % (name, path))
            for addr, typ, ids in claims:
                total += 1
                insts.write("%s\t%s\n" % (name, addr))
                for ident in ids:
                    f = field(typ, ident)
                    if f in claimed:
                        continue
                    claimed[f] = True
                    exp.write("%s\t%s\t%s\t%s\n" % (f, name, addr, typ))
    with open(os.path.join(a.outdir, "sources.json"), "w") as f:
        json.dump(sources, f)
    sys.stderr.write("gen_states: %d workspaces, %d indexed instances, %d identifiers\n"
                     % (len(sizes), total, len(claimed)))


if __name__ == "__main__":
    main()
