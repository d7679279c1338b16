#!/usr/bin/python3
"""A repeatable mutation campaign against shardnet (issue 11): hostile configs, --set
options, datasets, checkpoints and IDX/CIFAR-10 files, each run through the commands
that read it, under the sanitizer build.

usage: campaign.py [N_PER_KIND] [SEED] [--binary PATH] [--out DIR] [--jobs J]
                   [--kinds config,set,dataset,checkpoint,idx] [--only KIND:INDEX]
                   [--mpi-share F] [--timeout S]

N_PER_KIND (default 400) inputs of each kind are made from small valid seeds, all
choices drawn from SEED (default 1): case KIND:INDEX is the same input for the same
SEED on any machine, and `--only KIND:INDEX` makes and runs that one case again.
Run with /usr/bin/python3 (it needs h5py, numpy and PyYAML), as tests/integration do.

Seeds (OUT/seeds/, made with the binary under test, each checked to be accepted):
the blobs datasets of tests/integration/make_data.py (uint8, contiguous), a float32
copy, a chunked deflate+shuffle dataset from `shardnet convert idx --compress`, a
config using every section (seed.yaml), the checkpoint of a 3-step run of it, an IDX
pair (plain and gzip) and a CIFAR-10 batch.

Kinds and the commands each case runs (cwd: the case's own directory):
  config      YAML text mutations      summary C; train C
  set         seed.yaml + 1-4 --set    summary seed.yaml --set...; train seed.yaml --set...
              (train is skipped when a --set touches train.max_steps or train.epochs:
              a legitimately long run is no hang)
  dataset     h5py-structured or raw   train seed.yaml --set data.train|data.test=D; eval seed-ckpt --data D
  checkpoint  h5py-structured or raw   train seed.yaml --resume K; eval K --data T; predict K --data T --out P
  idx         IDX/gzip/CIFAR headers,  convert idx --images I --labels L --out O | convert cifar10 --out O F...
              truncation, byte damage
The seed config's `max_steps: 3` line is never touched by the config mutations, so
that training stays a few steps long whatever else a mutation changed.
A share (--mpi-share, default 0.05) of the cases that run MPI commands runs them as
`mpirun -np 2 --oversubscribe` instead of one process; every rank's status is kept.

Each command is classified, in this order:
  hang           still running after --timeout seconds (30): killed.
  crash          killed by a signal (exit status >= 128 under bash), or any output
                 holding a sanitizer or crash report ("AddressSanitizer",
                 "LeakSanitizer", "runtime error:", "internal error:", "Process
                 received signal", "Segmentation fault"), or a rank that never
                 reported its status.
  accepted       exit status 0 on every rank and nothing on stderr but
                 `shardnet: warning:` lines (everything shardnet prints normally goes
                 to stdout: only errors and warnings go to stderr).
  rejected-good  non-zero status on every rank; stderr holds exactly one line starting
                 `shardnet: error: ` and nothing else but `shardnet: warning:` lines
                 (and, under mpirun, mpirun's own lines, which are not shardnet's);
                 that line names the mutated file's basename, or one of the names the
                 case put at fault: for a config, a path the mutated config gives as
                 data.train, data.test or checkpoint.dir; for --set, an option's key
                 (its full path or last component) or its value.
  bad-message    anything else: exit 0 with error text, an error but not one such
                 line, a line naming neither, or ranks disagreeing on the outcome.
A case takes the worst outcome of its commands (crash > hang > bad-message >
rejected-good > accepted).

Output (default OUT = build/campaign/ of the source tree): a table per kind (cases,
outcomes, seconds of wall time), OUT/results.tsv (one line per case: outcome,
seconds, the mutations applied, the reason), and for every case that is not
accepted or rejected-good a directory OUT/failures/KIND-INDEX/ holding its input
files, repro.sh (the command lines with the environment) and log.txt (each
command's output). Exit status 1 when any case crashed, hung or got a bad message.
"""
import argparse
import concurrent.futures
import gzip
import hashlib
import os
import random
import re
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib

import h5py
import numpy as np
import yaml

SOURCE = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
KINDS = ["config", "set", "dataset", "checkpoint", "idx"]
KIND_TITLES = {"config": "configs", "set": "--set", "dataset": "datasets", "checkpoint": "checkpoints",
               "idx": "IDX/CIFAR"}
OUTCOMES = ["accepted", "rejected-good", "bad-message", "crash", "hang"]
SEVERITY = {o: i for i, o in enumerate(OUTCOMES)}
CRASH_TEXT = ["AddressSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehaviorSanitizer",
              "internal error:", "Process received signal", "Segmentation fault", "stack smashing",
              "double free", "core dumped"]

SEED_CONFIG = """\
# shardnet mutation campaign: the seed config (every section, block and flow style)
seed: 7
data:
  train: blobs-train.h5
  test: blobs-test.h5
  scale: 0.00392157
  mean: [0.2]
  std: [0.3]
  placement: auto
  augment:
    flip_horizontal: true
    random_crop: {padding: 1}
model:
  input: [1, 8, 8]
  layers:
    - {type: conv2d, name: conv, filters: 4, kernel: 3, padding: same, activation: relu}
    - {type: batchnorm2d, name: bn}
    - {type: conv2d, name: conv2, filters: 4, kernel: 3, padding: same}
    - {type: add, name: res, inputs: [conv2, bn]}
    - {type: maxpool2d, name: pool, size: 2, stride: 2}
    - {type: flatten, name: flat}
    - {type: dense, name: hidden, units: 16, activation: relu}
    - {type: dropout, name: drop, rate: 0.2}
    - {type: dense, name: logits, units: 4}
  loss: softmax_cross_entropy
train:
  max_steps: 3
  epochs: 1
  batch_size: 16
  log_every: 1
  optimizer:
    type: adam
    lr: 0.01
  schedule: {type: cosine, warmup_steps: 1}
checkpoint:
  dir: run
  every_steps: 2
  keep: 2
activations: {every_steps: 2, samples: [0, 3]}
"""
PROTECTED_LINE = "  max_steps: 3"
LAYER_NAMES = ["conv", "bn", "conv2", "res", "pool", "flat", "hidden", "drop", "logits"]
LAYER_TYPES = ["conv2d", "conv2d_transpose", "maxpool2d", "avgpool2d", "minpool2d", "global_avgpool2d",
               "upsample2d", "dense", "flatten", "dropout", "batchnorm2d", "add", "concat", "relu",
               "leaky_relu", "elu", "sigmoid", "tanh", "softmax", "lstm", ""]
LAYER_KEYS = ["type", "name", "inputs", "filters", "kernel", "stride", "padding", "activation", "alpha",
              "units", "rate", "size", "bias", "init", "flip", "eps", "epsilon", "momentum", "scale", "mode",
              "output_padding", "sync"]
SECTION_KEYS = [
    "seed", "data.train", "data.test", "data.scale", "data.mean", "data.std", "data.placement",
    "data.prefetch", "data.pad_to", "data.channels", "data.augment.flip_horizontal",
    "data.augment.random_crop.padding", "data.augment.random_shift.max", "data.augment.random_shift.fill",
    "model.input", "model.loss", "model.layers", "train.epochs", "train.batch_size", "train.max_steps",
    "train.log_every", "train.scale_lr", "train.base_batch_size", "train.bucket_mb", "train.overlap",
    "train.shared_memory", "train.precision", "train.optimizer.type", "train.optimizer.lr",
    "train.optimizer.momentum", "train.optimizer.nesterov", "train.optimizer.weight_decay",
    "train.optimizer.beta1", "train.optimizer.beta2", "train.schedule.type", "train.schedule.warmup_epochs",
    "train.schedule.warmup_steps", "train.schedule.warmup_start", "train.schedule.step_epochs",
    "train.schedule.step_steps", "train.schedule.gamma", "train.schedule.min_lr", "checkpoint.dir",
    "checkpoint.every_steps", "checkpoint.keep", "activations.every_steps", "activations.samples"]
CHOICE_VALUES = ["auto", "replicate", "node", "shard", "stream", "sgd", "adam", "adamw", "constant", "step",
                 "cosine", "linear", "none", "fp32", "bf16", "mse", "softmax_cross_entropy", "zero", "edge",
                 "reflect", "same", "valid", "nearest", "bilinear", "he_normal", "xavier_uniform", "zeros"]
# YAML scalars, lists and mappings that are wrong somewhere: sizes, signs, overflow,
# NaN, strings for numbers, tags, anchors, paths that are not datasets.
HOSTILE = [
    "0", "-1", "1", "2", "3", "7", "-2147483649", "2147483647", "2147483648", "4294967295", "4294967296",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808", "99999999999999999999999999",
    "65536", "65537", "1000000", "16777217", "268435457", "1e308", "1e309", "-1e309", "4.9e-324", "1e-320",
    ".nan", "nan", "NaN", ".inf", "-.inf", "inf", "0.0", "-0.0", "0.5", "1.5", "-0.5", "3.", "0x10",
    "0o17", "017", "1_000", "+5", "1e3", "' 3'", "'3 '", '""', "''", "~", "null", "true", "false", "yes",
    "no", "on", "abc", '"x\\0y"', "[]", "[1, 2]", "[[1]]", "[-1, -1, -1]", "[0, 8, 8]", "[1, 65537, 8]",
    "[1, 2147483647, 2147483647]", "[1.5, 8, 8]", "[nan]", "{}", "{a: 1}", "!!binary aGVsbG8=", "!!str 3",
    "!!int x", "!!float abc", "!foo 3", "&anchor 3", "*anchor", "*undefined", '"' + "x" * 5000 + '"',
    "x" * 300, '"\\u00e9\\u4e2d"', "\u00e9\u4e2d\u6587", "/dev/zero", "/dev/null", "/nonexistent/file.h5",
    "/tmp", ".", "blobs-test.h5", "seed.yaml", "12:30:00", "2001-12-14", "- a", "? x", "%x", "@x", "`x",
    "'unterminated", '"unterminated', "[unclosed", "{unclosed", "a: b: c", "a, b", "#comment", '"a\\nb"',
    '"\\e[31mred\\e[0m"', '"tab\\there\\r"', '"\\x01\\x7f"']
UNKNOWN_KEYS = ["bogus", "Train", "lr ", "units\t", "<<", "? complex", "[a, b]", "1", "~", "name", "type",
                "seed", "model", "layers", "x" * 300, "\u00e9"]
MPIRUN_NOISE = re.compile(r"^(-{5,}|Primary job|a non-zero exit|Per user-direction|mpirun (detected|noticed|has exited)"
                          r"|\s*Process name:|\s*Exit code:|process rank|on node|exited on signal)")


def log(*args):
    print(*args, flush=True)


# ---------------------------------------------------------------------------
# Running the binary and judging what it did


class Runner:
    def __init__(self, binary, timeout):
        self.binary = binary
        self.timeout = timeout
        env = dict(os.environ)
        env.update({
            "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
            "OMPI_MCA_rmaps_base_oversubscribe": "1", "OMPI_MCA_orte_abort_on_non_zero_status": "0",
            "OMP_NUM_THREADS": "1", "SHARDNET_PROGRESS": "0",
            # as scripts/test.sh sets them: full unwinding so that tests/lsan.supp can
            # set Open MPI's and HDF5's process-lifetime allocations aside
            "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0",
            "LSAN_OPTIONS": "suppressions=%s/tests/lsan.supp:print_suppressions=0:fast_unwind_on_malloc=0" % SOURCE,
            "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
        })
        self.env = env

    def command_line(self, argv, ranks):
        if ranks > 1:
            return ["mpirun", "-np", str(ranks), "--oversubscribe", "bash", "-c",
                    '"$0" "$@"; code=$?; echo "$OMPI_COMM_WORLD_RANK:$code" >>.rank-codes; exit $code',
                    self.binary] + argv
        return [self.binary] + argv

    def run(self, argv, cwd, ranks):
        codes = os.path.join(cwd, ".rank-codes")
        if os.path.exists(codes):
            os.unlink(codes)
        start = time.monotonic()
        p = subprocess.Popen(self.command_line(argv, ranks), cwd=cwd, env=self.env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        hung = False
        try:
            out, err = p.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            hung = True
            # SIGTERM first: mpirun passes it on to its ranks; then whatever is left
            for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 10)):
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    pass
                try:
                    out, err = p.communicate(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    out, err = b"", b""
        seconds = time.monotonic() - start
        rank_codes = None
        if ranks > 1:
            rank_codes = {}
            if os.path.exists(codes):
                for line in open(codes):
                    r, _, c = line.strip().partition(":")
                    if r.isdigit() and c.lstrip("-").isdigit():
                        rank_codes[int(r)] = int(c)
                os.unlink(codes)
        return {"argv": argv, "ranks": ranks, "status": p.returncode, "hung": hung, "seconds": seconds,
                "stdout": out.decode("utf-8", "replace"), "stderr": err.decode("utf-8", "replace"),
                "rank_codes": rank_codes}


def judge(res, names):
    """(outcome, reason) of one command's result; names: what its error may name."""
    if res["hung"]:
        return "hang", "still running after the time limit"
    text = res["stdout"] + res["stderr"]
    for pattern in CRASH_TEXT:
        if pattern in text:
            line = next((l for l in text.splitlines() if pattern in l), pattern)
            return "crash", line.strip()[:300]
    status = res["status"]
    if status < 0 or status >= 128:
        return "crash", "exit status %d" % status
    codes = res["rank_codes"]
    if codes is not None:
        missing = [r for r in range(res["ranks"]) if r not in codes]
        if missing:
            return "crash", "rank(s) %s never reported an exit status" % missing
        if any(c < 0 or c >= 128 for c in codes.values()):
            return "crash", "rank exit statuses %s" % codes
    lines = [l for l in res["stderr"].splitlines() if l.strip()]
    errors = [l for l in lines if l.startswith("shardnet: error: ")]
    other = [l for l in lines if not l.startswith("shardnet: error: ") and not l.startswith("shardnet: warning: ")]
    if codes is not None:
        other = [l for l in other if not MPIRUN_NOISE.match(l)]
    failed = status != 0 or (codes is not None and any(codes.values()))
    if not failed:
        if errors or other:
            return "bad-message", "exit 0 but stderr holds: %s" % (errors + other)[0][:300]
        return "accepted", ""
    if codes is not None and any(c == 0 for c in codes.values()):
        return "bad-message", "ranks disagree: exit statuses %s" % codes
    if len(errors) != 1:
        return "bad-message", "%d 'shardnet: error:' lines%s" % (
            len(errors), (": " + " | ".join(errors[:3])[:300]) if errors else "; stderr: " + " | ".join(lines[:3])[:300])
    if other:
        return "bad-message", "more than the error line on stderr: %s" % other[0][:300]
    if not any(n and n in errors[0] for n in names):
        return "bad-message", "names none of %s: %s" % (sorted(set(n for n in names if n))[:6], errors[0][:300])
    return "rejected-good", errors[0]


# ---------------------------------------------------------------------------
# Seeds


class Seeds:
    def __init__(self, runner, root):
        self.root = root
        self.runner = runner

    def path(self, name):
        return os.path.join(self.root, name)

    def make(self):
        if os.path.exists(self.root):
            shutil.rmtree(self.root)
        os.makedirs(self.root)
        subprocess.run([sys.executable, os.path.join(SOURCE, "tests/integration/make_data.py"), self.root],
                       check=True, stdout=subprocess.DEVNULL)
        with h5py.File(self.path("blobs-train.h5")) as f:
            images, labels = f["images"][()], f["labels"][()]
        with h5py.File(self.path("blobs-float.h5"), "w") as f:
            f.attrs["format"] = "shardnet-dataset"
            f.attrs["format_version"] = 1
            f["images"] = images[:64].astype(np.float32) / 255
            f["labels"] = labels[:64].astype(np.int32)
        open(self.path("seed.yaml"), "w").write(SEED_CONFIG)
        # IDX and CIFAR-10 files, and a dataset the converter makes (chunked, deflate)
        n = 40
        idx_images = struct.pack(">IIII", 0x803, n, 8, 8) + images[:n, :, :, 0].tobytes()
        idx_labels = struct.pack(">II", 0x801, n) + labels[:n].astype(np.uint8).tobytes()
        open(self.path("images.idx"), "wb").write(idx_images)
        open(self.path("labels.idx"), "wb").write(idx_labels)
        open(self.path("images.idx.gz"), "wb").write(gzip.compress(idx_images, mtime=0))
        open(self.path("labels.idx.gz"), "wb").write(gzip.compress(idx_labels, mtime=0))
        rng = np.random.default_rng(5)
        planes = rng.integers(0, 256, size=(4, 3, 32, 32), dtype=np.uint8)
        open(self.path("cifar.bin"), "wb").write(b"".join(bytes([k]) + planes[i].tobytes()
                                                          for i, k in enumerate([3, 9, 0, 5])))
        self.check(["convert", "idx", "--images", "images.idx.gz", "--labels", "labels.idx",
                    "--class-names", "a,b,c,d", "--compress", "4", "--shuffle", "--out", "converted.h5"])
        self.check(["convert", "cifar10", "--out", "cifar.h5", "cifar.bin"])
        self.check(["summary", "seed.yaml"])
        self.check(["train", "seed.yaml", "--set", "checkpoint.dir=seedrun"])
        shutil.copyfile(os.path.realpath(self.path("seedrun/latest.h5")), self.path("seed-ckpt.h5"))
        self.check(["eval", "seed-ckpt.h5", "--data", "blobs-test.h5"])
        self.check(["train", "seed.yaml", "--set", "data.train=converted.h5", "--set", "checkpoint.dir=run2"])
        self.check(["eval", "seed-ckpt.h5", "--data", "blobs-float.h5"])
        self.sums = self.checksums()

    def check(self, argv):
        res = self.runner.run(argv, self.root, 1)
        outcome, reason = judge(res, [])
        if outcome != "accepted":
            sys.exit("campaign: the seed command `shardnet %s` was not accepted (%s):\n%s" %
                     (" ".join(argv), reason or outcome, res["stderr"][-3000:]))

    def checksums(self):
        sums = {}
        for name in sorted(os.listdir(self.root)):
            p = self.path(name)
            if os.path.isfile(p):
                sums[name] = hashlib.md5(open(p, "rb").read()).hexdigest()
        return sums


# ---------------------------------------------------------------------------
# Byte-level damage, shared by every binary format


def byte_damage(rng, data, ops, header=4096):
    data = bytearray(data)
    what = rng.choice(["flip", "flip", "set", "truncate", "truncate", "zero", "insert", "append", "duplicate"])
    if not data:
        return bytes(data) + bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))

    def pos():
        # metadata lives near the start of these files: aim there half the time
        if rng.random() < 0.5:
            return rng.randrange(min(len(data), header))
        return rng.randrange(len(data))

    if what == "flip":
        k = rng.choice([1, 1, 2, 4, 16, 64])
        for _ in range(k):
            p = pos()
            data[p] ^= 1 << rng.randrange(8)
        ops.append("flip %d bits" % k)
    elif what == "set":
        k = rng.choice([1, 4, 16])
        v = rng.choice([0, 0xFF, 0x7F, 0x80, None])
        for _ in range(k):
            data[pos()] = rng.randrange(256) if v is None else v
        ops.append("set %d bytes to %s" % (k, "random" if v is None else hex(v)))
    elif what == "truncate":
        cut = rng.choice([rng.randrange(len(data)), rng.randrange(min(len(data), 64)),
                          max(0, len(data) - rng.randint(1, 16))])
        data = data[:cut]
        ops.append("truncate to %d bytes" % cut)
    elif what == "zero":
        p, k = pos(), rng.choice([8, 64, 512, 4096])
        data[p:p + k] = bytes(len(data[p:p + k]))
        ops.append("zero %d bytes at %d" % (k, p))
    elif what == "insert":
        p, k = pos(), rng.choice([1, 3, 8, 100])
        data[p:p] = bytes(rng.randrange(256) for _ in range(k))
        ops.append("insert %d bytes at %d" % (k, p))
    elif what == "append":
        k = rng.choice([1, 7, 512, 10000])
        data += bytes(rng.randrange(256) for _ in range(k))
        ops.append("append %d bytes" % k)
    else:
        p, k = pos(), rng.choice([16, 256, 2048])
        data[p:p] = data[p:p + k]
        ops.append("duplicate %d bytes at %d" % (k, p))
    return bytes(data)


# ---------------------------------------------------------------------------
# Configs: YAML text


VALUE_RE = re.compile(r"(?P<key>[A-Za-z_][A-Za-z0-9_]*)(?P<sep>\s*:\s+)(?P<val>\[[^\[\]\n]*\]|[^,{}\[\]\n#]+)")


def hostile_value(rng, key=None):
    r = rng.random()
    if r < 0.12:
        return rng.choice(CHOICE_VALUES + LAYER_TYPES[:-1])
    if r < 0.18 and key in ("inputs",):
        return rng.choice(["[conv]", "[res]", "[logits]", "[nosuch]", "[conv, conv]", "[]", "[conv, bn, conv2]"])
    if r < 0.22:
        depth = rng.choice([10, 63, 64, 65, 200, 5000])
        return rng.choice(["[" * depth + "]" * depth, "{a: " * depth + "1" + "}" * depth])
    return rng.choice(HOSTILE)


def mutate_config_text(rng, text, ops):
    """One mutation of config text; returns bytes."""
    for _ in range(20):
        try:
            return mutate_config_once(rng, text, ops)
        except (IndexError, StopIteration, ValueError):
            continue  # the text lacks what this mutation needs (a truncated file): draw another
    return text.encode("utf-8", "surrogatepass")


def mutate_config_once(rng, text, ops):
    lines = text.split("\n")
    free = [i for i, l in enumerate(lines) if l != PROTECTED_LINE and l.strip()]
    op = rng.choice(["delete", "duplicate", "swap", "move", "indent", "value", "value", "value", "value",
                     "key", "unknown", "deep", "truncate", "bytes", "bytes", "alias", "documents", "layers",
                     "encoding", "merge"])
    if op == "delete":
        i = rng.choice(free)
        ops.append("delete line %d" % (i + 1))
        del lines[i]
    elif op == "duplicate":
        i = rng.choice(free)
        ops.append("duplicate line %d" % (i + 1))
        lines.insert(i, lines[i])
    elif op == "swap":
        i, j = rng.choice(free), rng.choice(free)
        ops.append("swap lines %d and %d" % (i + 1, j + 1))
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "move":
        i = rng.choice(free)
        line = lines.pop(i)
        j = rng.randrange(len(lines) + 1)
        ops.append("move line %d to %d" % (i + 1, j + 1))
        lines.insert(j, line)
    elif op == "indent":
        i = rng.choice(free)
        pad = rng.choice(["", " ", "   ", "      ", "\t", "        "])
        ops.append("re-indent line %d by %r" % (i + 1, pad))
        lines[i] = pad + lines[i].lstrip(" ")
    elif op in ("value", "key"):
        spots = [(i, m) for i in free for m in VALUE_RE.finditer(lines[i])]
        i, m = rng.choice(spots)
        if op == "value":
            v = hostile_value(rng, m.group("key"))
            ops.append("line %d: %s: %s" % (i + 1, m.group("key"), v[:60]))
            lines[i] = lines[i][:m.start("val")] + v + lines[i][m.end("val"):]
        else:
            k = rng.choice(LAYER_KEYS + UNKNOWN_KEYS + [s.split(".")[-1] for s in SECTION_KEYS])
            ops.append("line %d: key %s -> %s" % (i + 1, m.group("key"), k[:40]))
            lines[i] = lines[i][:m.start("key")] + k + lines[i][m.end("key"):]
    elif op == "unknown":
        i = rng.randrange(len(lines) + 1)
        pad = rng.choice(["", "  ", "    ", "      "])
        k = rng.choice(UNKNOWN_KEYS)
        ops.append("insert %r at line %d" % (pad + k, i + 1))
        lines.insert(i, "%s%s: %s" % (pad, k, hostile_value(rng)))
    elif op == "deep":
        depth = rng.choice([30, 63, 64, 65, 100, 1000, 50000])
        style = rng.choice(["flow-list", "flow-map", "block-map", "block-list"])
        if style == "flow-list":
            value = "[" * depth + "]" * depth
        elif style == "flow-map":
            value = "{a: " * depth + "1" + "}" * depth
        elif style == "block-map":
            depth = min(depth, 2000)
            value = "\n" + "\n".join("  " * (d + 1) + "a:" for d in range(depth)) + " 1"
        else:
            depth = min(depth, 2000)
            value = "\n" + "\n".join("  " * (d + 1) + "-" for d in range(depth)) + " 1"
        where = rng.choice(["x", "train", "data"])
        if where == "x":
            lines.append("x: " + value)
        else:
            lines.append("%s:\n  deep: %s" % (where, value.replace("\n", "\n  ")))
        ops.append("nest %s %d deep under %s" % (style, depth, where))
    elif op == "truncate":
        body = "\n".join(lines)
        cut = rng.randrange(len(body))
        ops.append("truncate at byte %d" % cut)
        return body[:cut].encode("utf-8", "surrogatepass")
    elif op == "bytes":
        body = bytearray("\n".join(lines).encode())
        protected = body.find(PROTECTED_LINE.encode())
        for _ in range(rng.choice([1, 2, 4, 8])):
            p = rng.randrange(len(body))
            if protected <= p < protected + len(PROTECTED_LINE):
                continue
            b = rng.choice([0, 0xFF, 0xC3, 0x09, 0x0D, 0x0A, ord(":"), ord("{"), ord("["), ord('"'), ord("'"),
                            ord("&"), ord("*"), ord("!"), ord("%"), ord("-"), ord("|"), ord(">"), ord("?"),
                            ord("#"), ord(","), rng.randrange(256)])
            action = rng.choice(["set", "insert", "delete"])
            if action == "set":
                body[p] = b
            elif action == "insert":
                body[p:p] = bytes([b])
            else:
                del body[p]
            ops.append("%s byte %s at %d" % (action, hex(b), p))
        return bytes(body)
    elif op == "alias":
        levels = rng.choice([3, 6, 9, 12])
        lines.append("x:")
        lines.append("  l0: &l0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]")
        for k in range(1, levels):
            lines.append("  l%d: &l%d [%s]" % (k, k, ", ".join(["*l%d" % (k - 1)] * 10)))
        if rng.random() < 0.5:
            # the alias where a value is read: its expansion is what the reader walks
            spots = [(i, m) for i in free for m in VALUE_RE.finditer(lines[i])]
            i, m = rng.choice(spots)
            lines[i] = lines[i][:m.start("val")] + "*l%d" % (levels - 1) + lines[i][m.end("val"):]
            ops.append("alias bomb of 10^%d nodes used at line %d" % (levels, i + 1))
        else:
            ops.append("alias bomb of 10^%d nodes under x" % levels)
    elif op == "documents":
        sep = rng.choice(["---", "...", "--- !!map", "%YAML 1.1\n---", "%TAG ! tag:x,2000:\n---", "--- |\n  text"])
        i = rng.randrange(len(lines) + 1)
        ops.append("insert %r at line %d" % (sep, i + 1))
        lines.insert(i, sep)
    elif op == "layers":
        start = next(i for i, l in enumerate(lines) if l.strip() == "layers:") + 1
        layer = rng.randrange(start, start + len(LAYER_NAMES))
        how = rng.choice(["repeat", "repeat", "drop-name", "rename", "self-input", "empty-list", "scalar"])
        if how == "repeat":
            k = rng.choice([2, 100, 4095, 4097, 20000])
            ops.append("repeat layer line %d %d times" % (layer + 1, k))
            lines[layer:layer + 1] = [lines[layer]] * k
        elif how == "drop-name":
            ops.append("remove the name of layer line %d" % (layer + 1))
            lines[layer] = re.sub(r"name: \w+, ", "", lines[layer])
        elif how == "rename":
            other = rng.choice(LAYER_NAMES + ["", "x" * 200, "a/b", "a b", "conv:0"])
            ops.append("rename layer line %d to %r" % (layer + 1, other[:40]))
            lines[layer] = re.sub(r"name: \w+", "name: " + (other or "''"), lines[layer])
        elif how == "self-input":
            m = re.search(r"name: (\w+)", lines[layer])
            target = rng.choice([m.group(1) if m else "conv", "logits", "nosuch"])
            ops.append("layer line %d reads [%s]" % (layer + 1, target))
            lines[layer] = lines[layer].rstrip("}") + ", inputs: [%s]}" % target
        elif how == "empty-list":
            ops.append("model.layers is empty")
            del lines[start:start + len(LAYER_NAMES)]
            lines[start - 1] = "  layers: []"
        else:
            ops.append("layer line %d is a scalar" % (layer + 1))
            lines[layer] = "    - " + rng.choice(["conv2d", "1", "~", "[]", "[conv2d]"])
    elif op == "encoding":
        body = "\n".join(lines)
        how = rng.choice(["crlf", "bom", "utf16", "nul", "latin1"])
        ops.append("encoding: %s" % how)
        if how == "crlf":
            return body.replace("\n", "\r\n").encode()
        if how == "bom":
            return b"\xef\xbb\xbf" + body.encode()
        if how == "utf16":
            return body.encode("utf-16")
        if how == "nul":
            p = rng.randrange(len(body))
            return body[:p].encode() + b"\0" + body[p:].encode()
        return body.replace("relu", "r\xe9lu").encode("latin-1")
    else:
        ops.append("merge key")
        lines.append("base: &base {filters: 4, kernel: 3}")
        i = next(i for i, l in enumerate(lines) if "name: conv," in l)
        lines[i] = lines[i].replace("{type: conv2d,", "{<<: *base, type: conv2d,")
    return "\n".join(lines).encode("utf-8", "surrogatepass")


def config_related_names(blob):
    """Paths the mutated config names for data and checkpoints: an error may name them."""
    try:
        doc = yaml.safe_load(blob)
    except Exception:
        return []
    names = []
    if isinstance(doc, dict):
        for section, keys in (("data", ("train", "test")), ("checkpoint", ("dir",))):
            sec = doc.get(section)
            if isinstance(sec, dict):
                # any scalar: PyYAML reads 2001-12-14 as a date, shardnet as the path it is
                names += [str(sec[k]) for k in keys if sec.get(k) is not None and not isinstance(sec[k], (list, dict))]
    return [n for n in names if len(n) >= 1]


# ---------------------------------------------------------------------------
# Datasets: HDF5, structured (h5py) or raw


def dataset_spec(path):
    with h5py.File(path) as f:
        spec = {"images": {"data": f["images"][()]}, "labels": {"data": f["labels"][()]},
                "attrs": {k: f.attrs[k] for k in f.attrs}, "libver": None}
        if f["images"].chunks:
            spec["images"].update(chunks=f["images"].chunks, compression=f["images"].compression,
                                  shuffle=f["images"].shuffle)
    return spec


def write_spec(path, spec):
    with h5py.File(path, "w", libver=spec.get("libver") or "earliest") as f:
        for name in ("images", "labels", "targets"):
            d = spec.get(name)
            if d is None:
                continue
            how = d.get("how", "data")
            if how == "data":
                kw = {k: d[k] for k in ("chunks", "compression", "compression_opts", "shuffle", "fletcher32",
                                        "scaleoffset", "dtype") if d.get(k) is not None}
                f.create_dataset(name, data=d["data"], **kw)
            elif how == "sparse":
                f.create_dataset(name, shape=d["shape"], dtype=d["dtype"], chunks=d["chunks"])
            elif how == "group":
                f.create_group(name)
            elif how == "soft":
                f[name] = h5py.SoftLink(d["target"])
            elif how == "external":
                f[name] = h5py.ExternalLink(d["file"], d["target"])
            elif how == "hard":
                pass  # made below, once its target exists
            elif how == "storage":  # HDF5 external storage: the values are in another file
                f.create_dataset(name, shape=d["shape"], dtype="u1",
                                 external=[(d["file"], 0, h5py.h5f.UNLIMITED)])
            elif how == "virtual":
                layout = h5py.VirtualLayout(shape=d["shape"], dtype="u1")
                layout[:] = h5py.VirtualSource(d["file"], "images", shape=(480, 8, 8, 1))[:d["shape"][0]]
                f.create_virtual_dataset(name, layout)
        for name in ("images", "labels", "targets"):
            d = spec.get(name)
            if d is not None and d.get("how") == "hard" and d["target"] in f:
                f[name] = f[d["target"]]
        for k, v in spec["attrs"].items():
            f.attrs[k] = v
        for hook in spec.get("hooks", []):
            hook(f)
    for hook in spec.get("raw_hooks", []):
        hook(path)


def hostile_string_attr(rng):
    return rng.choice([
        ("removed", None), ("empty", ""), ("checkpoint", "shardnet-checkpoint"), ("activations", "shardnet-activations"),
        ("NUL inside", np.bytes_(b"shardnet-dataset\0x")), ("fixed-length", np.bytes_(b"shardnet-dataset")),
        ("two strings", np.array(["shardnet-dataset", "x"], dtype=h5py.string_dtype())),
        ("empty array", np.array([], dtype=h5py.string_dtype())),
        ("2-D strings", np.array([["a", "b"], ["c", "d"]], dtype=h5py.string_dtype())),
        ("int", np.int64(1)), ("float", np.float64(1.5)), ("int array", np.arange(3)),
        ("1 MB + 1", "x" * ((1 << 20) + 1)), ("64 KB", "y" * 65536), ("not UTF-8", np.bytes_(b"\xff\xfe\x80")),
        ("fixed-length 2 MB", np.bytes_(b"z" * (2 << 20))), ("long name", "shardnet-dataset" + "x" * 100),
        ("newline", "shardnet\ndataset"), ("escape codes", "\x1b[2J\x1b[31mred\r")])


def hostile_int_attr(rng):
    return rng.choice([
        ("removed", None), ("-1", np.int64(-1)), ("0", np.int64(0)), ("2^31", np.int64(1 << 31)),
        ("2^53+1", np.int64((1 << 53) + 1)), ("2^62", np.int64(1 << 62)), ("-2^63", np.int64(-(1 << 63))),
        ("2^63-1", np.int64((1 << 63) - 1)), ("uint64 max", np.uint64((1 << 64) - 1)), ("1.5", np.float64(1.5)),
        ("nan", np.float64("nan")), ("1e300", np.float64(1e300)), ("string", "3"), ("array", np.array([1, 2])),
        ("bool", np.bool_(True)), ("int8 -1", np.int8(-1)), ("empty array", np.array([], dtype=np.int64)),
        ("2-D", np.ones((2, 2), dtype=np.int64)), ("99", np.int64(99))])


def mutate_dataset_spec(rng, spec, ops):
    n = len(spec["labels"]["data"])
    img = spec["images"]
    op = rng.choice(["images-dtype", "images-shape", "nan", "sparse", "labels-dtype", "labels-values",
                     "labels-shape", "labels-missing", "targets", "format", "format_version", "class_names",
                     "structure", "storage", "empty"])
    if op == "images-dtype":
        dt = rng.choice(["int8", "uint16", "int16", "int32", "uint32", "int64", "uint64", "float16", "float64",
                         "bool", "S4", "complex64", "compound", "enum", "vlen"])
        ops.append("images as %s" % dt)
        x = img["data"]
        if dt == "compound":
            y = np.zeros(x.shape, dtype=[("a", "u1"), ("b", "f4")])
            y["a"] = x
            img["data"] = y
        elif dt == "enum":
            img["data"] = x
            img["dtype"] = h5py.enum_dtype({"a": 0, "b": 255}, basetype="u1")
        elif dt == "vlen":
            img["how"] = None
            spec["hooks"] = spec.get("hooks", []) + [
                lambda f: f.create_dataset("images", data=np.array([np.arange(3, dtype="u1")] * n, dtype=object),
                                           dtype=h5py.vlen_dtype("u1"))]
        else:
            img["data"] = x.astype(dt)
    elif op == "images-shape":
        x = img["data"]
        shape = rng.choice(["(N,8,8)", "(N,64)", "(N,)", "(N,8,8,1,1)", "(N,1,8,8)", "(N,8,8,3)", "(N,9,8,1)",
                            "(1,8,8,1)", "()", "(N,8,8,0)", "(N,1,1,1)", "(N,8,8,2)", "(2N,8,8,1)"])
        ops.append("images of shape %s" % shape)
        img.pop("chunks", None)
        img.pop("compression", None)
        img.pop("shuffle", None)
        img["data"] = {
            "(N,8,8)": lambda: x.reshape(n, 8, 8), "(N,64)": lambda: x.reshape(n, 64),
            "(N,)": lambda: x[:, 0, 0, 0], "(N,8,8,1,1)": lambda: x.reshape(n, 8, 8, 1, 1),
            "(N,1,8,8)": lambda: x.reshape(n, 1, 8, 8), "(N,8,8,3)": lambda: np.repeat(x, 3, axis=3),
            "(N,9,8,1)": lambda: np.concatenate([x, x[:, :1]], axis=1), "(1,8,8,1)": lambda: x[:1],
            "()": lambda: x[0, 0, 0, 0], "(N,8,8,0)": lambda: x[:, :, :, :0], "(N,1,1,1)": lambda: x[:, :1, :1],
            "(N,8,8,2)": lambda: np.repeat(x, 2, axis=3), "(2N,8,8,1)": lambda: np.concatenate([x, x])}[shape]()
    elif op == "nan":
        x = img["data"].astype(np.float32) / (255 if img["data"].dtype == np.uint8 else 1)
        v = rng.choice([np.nan, np.inf, -np.inf, 3.4e38, -3.4e38, 1e-45])
        k = rng.choice([1, 10, x.size])
        flat = x.reshape(-1)
        for i in rng.sample(range(flat.size), k):
            flat[i] = v
        img["data"] = x
        ops.append("%d float pixels set to %r" % (k, v))
    elif op == "sparse":
        shape = rng.choice([((1 << 32) - 1, 8, 8, 1), (1 << 32, 8, 8, 1), (1 << 31, 8, 8, 1), (1 << 24, 8, 8, 1),
                            (2, 65536, 65536, 1), (2, 16384, 16384, 1), (2, 8, 8, 1 << 28), (4, 1, 1 << 28, 1),
                            (1 << 40, 8, 8, 1), (2, 65537, 1, 1)])
        dtype = rng.choice(["u1", "f4"])
        chunk = tuple(min(s, c) for s, c in zip(shape, (1, 8, 8, 1)))
        ops.append("images declared %s %s, no data written" % (shape, dtype))
        spec["images"] = {"how": "sparse", "shape": shape, "dtype": dtype, "chunks": chunk}
        if rng.random() < 0.7:
            spec["labels"] = {"how": "sparse", "shape": (shape[0],), "dtype": "i4", "chunks": (min(shape[0], 4096),)}
            ops.append("labels declared (%d,), no data written" % shape[0])
    elif op == "labels-dtype":
        dt = rng.choice(["float32", "float64", "int64", "uint8", "int8", "uint64", "int16", "S4", "bool"])
        ops.append("labels as %s" % dt)
        spec["labels"]["data"] = spec["labels"]["data"].astype(dt)
    elif op == "labels-values":
        v = rng.choice([4, -1, 255, 2147483647, -2147483648, 1 << 40, 5])
        k = rng.choice([1, n])
        lab = spec["labels"]["data"].astype(np.int64)
        for i in rng.sample(range(n), k):
            lab[i] = v
        spec["labels"]["data"] = lab.astype(np.int32) if -(1 << 31) <= v < (1 << 31) else lab
        ops.append("%d labels set to %d" % (k, v))
    elif op == "labels-shape":
        shape = rng.choice(["(N,1)", "(N-1,)", "(N+1,)", "()", "(N,2)", "(0,)"])
        lab = spec["labels"]["data"]
        spec["labels"]["data"] = {"(N,1)": lambda: lab.reshape(n, 1), "(N-1,)": lambda: lab[:-1],
                                  "(N+1,)": lambda: np.concatenate([lab, lab[:1]]), "()": lambda: lab[0],
                                  "(N,2)": lambda: np.stack([lab, lab], 1), "(0,)": lambda: lab[:0]}[shape]()
        ops.append("labels of shape %s" % shape)
    elif op == "labels-missing":
        how = rng.choice(["removed", "group", "soft", "external", "hard-images"])
        ops.append("labels %s" % how)
        spec["labels"] = {"removed": None, "group": {"how": "group"}, "soft": {"how": "soft", "target": "/nowhere"},
                          "external": {"how": "external", "file": "missing.h5", "target": "/labels"},
                          "hard-images": {"how": "hard", "target": "images"}}[how]
    elif op == "targets":
        how = rng.choice(["instead", "instead", "both", "strings", "sparse", "4-D"])
        x = img["data"].reshape(n, -1).astype(np.float32)
        ops.append("targets %s" % how)
        if how == "sparse":
            spec["labels"] = None
            per = rng.choice([1 << 30, 1 << 32, (1 << 32) + 4, 1 << 62, (1 << 62) + 1])
            spec["targets"] = {"how": "sparse", "shape": (n, per), "dtype": "f4", "chunks": (1, 1024)}
            ops.append("targets declared (%d, %d), no data written" % (n, per))
        elif how == "4-D":
            spec["labels"] = None
            spec["targets"] = {"data": np.zeros((n, 2, 1, 2), np.float32)}
        elif how == "strings":
            spec["labels"] = None
            spec["targets"] = {"data": np.array(["a"] * n, dtype=h5py.string_dtype())}
        else:
            spec["targets"] = {"data": x}
            if how == "instead":
                spec["labels"] = None
    elif op in ("format", "format_version"):
        what, v = hostile_string_attr(rng) if op == "format" else hostile_int_attr(rng)
        ops.append("%s attribute: %s" % (op, what))
        if v is None:
            spec["attrs"].pop(op, None)
        else:
            spec["attrs"][op] = v
            if isinstance(v, (str, np.bytes_)) and len(v) > 60000:
                spec["libver"] = "latest"
    elif op == "class_names":
        what, v = rng.choice([
            ("int", np.int64(4)), ("empty", np.array([], dtype=h5py.string_dtype())),
            ("10000 names", np.array(["c%d" % i for i in range(10000)], dtype=h5py.string_dtype())),
            ("one empty name", np.array([""], dtype=h5py.string_dtype())),
            ("4 names of 100 KB", np.array(["x" * 100000] * 4, dtype=h5py.string_dtype())),
            ("2-D", np.array([["a", "b"], ["c", "d"]], dtype=h5py.string_dtype())),
            ("fixed-length", np.array([b"a", b"b", b"c", b"d"], dtype="S1")), ("one string", "a"),
            ("not UTF-8", np.array([b"\xff", b"\xfe"], dtype="S1")), ("floats", np.zeros(4))])
        ops.append("class_names: %s" % what)
        spec["attrs"]["class_names"] = v
        spec["libver"] = "latest"
    elif op == "structure":
        how = rng.choice(["images-group", "images-soft", "images-external", "images-external-self",
                          "images-external-dev", "images-hard-labels", "images-removed", "images-storage-file",
                          "images-storage-dev", "images-virtual"])
        ops.append(how)
        spec["images"] = {"images-group": {"how": "group"}, "images-soft": {"how": "soft", "target": "/nowhere"},
                          "images-external": {"how": "external", "file": "missing.h5", "target": "/images"},
                          "images-external-self": {"how": "external", "file": "blobs-test.h5", "target": "/images"},
                          "images-external-dev": {"how": "external", "file": "/dev/zero", "target": "/images"},
                          "images-hard-labels": {"how": "hard", "target": "labels"},
                          "images-storage-file": {"how": "storage", "file": "/etc/passwd"},
                          "images-storage-dev": {"how": "storage", "file": "/dev/zero"},
                          "images-virtual": {"how": "virtual", "file": "blobs-train.h5"},
                          "images-removed": None}[how]
        if how in ("images-storage-file", "images-storage-dev", "images-virtual"):
            spec["images"]["shape"] = (n, 8, 8, 1)
            spec["libver"] = "latest"
    elif op == "storage":
        how = rng.choice(["chunk-1", "lzf", "scaleoffset", "fletcher-damaged", "gzip-damaged", "chunk-huge"])
        ops.append("images storage: %s" % how)
        x = img["data"]
        for k in ("chunks", "compression", "shuffle"):
            img.pop(k, None)
        if how == "chunk-1":
            img["chunks"] = (1, 1, 1, 1)
        elif how == "chunk-huge":
            img["chunks"] = (n, 8, 8, 1)
        elif how == "lzf":
            img["compression"] = "lzf"
        elif how == "scaleoffset":
            img["scaleoffset"] = 0
        else:
            img["chunks"] = (16, 8, 8, 1)
            if how == "fletcher-damaged":
                img["fletcher32"] = True
            else:
                img["compression"] = "gzip"
            at = rng.randrange(max(1, x.shape[0] // 16))
            spec["raw_hooks"] = [lambda path, at=at: damage_chunk(path, "images", (at * 16, 0, 0, 0))]
    else:
        ops.append("images empty (0, 8, 8, 1), labels (0,)")
        img["data"] = img["data"][:0]
        spec["labels"]["data"] = spec["labels"]["data"][:0]
        img.pop("chunks", None)
    return spec


def damage_chunk(path, name, coord):
    with h5py.File(path) as f:
        info = f[name].id.get_chunk_info_by_coord(coord)
    with open(path, "r+b") as raw:
        raw.seek(info.byte_offset + min(4, info.size - 1))
        raw.write(b"\xa5\x5a\xff\x00")


# ---------------------------------------------------------------------------
# Checkpoints: h5py in place, or raw


TENSORS = ["conv/conv/kernel:0", "conv/conv/bias:0", "bn/bn/gamma:0", "bn/bn/moving_variance:0",
           "conv2/conv2/kernel:0", "hidden/hidden/kernel:0", "logits/logits/bias:0"]


def mutate_checkpoint(rng, path, ops):
    op = rng.choice(["int-attr", "int-attr", "format", "config", "config", "overrides", "optimizer", "layer_names",
                     "weight_names", "tensor", "tensor", "tensor", "structure"])
    with h5py.File(path, "r+") as f:
        if op == "int-attr":
            name = rng.choice(["step", "epoch", "samples_seen", "world_size", "seed", "format_version"])
            what, v = hostile_int_attr(rng)
            ops.append("attribute %s: %s" % (name, what))
            set_attr(f, name, v)
        elif op == "format":
            what, v = hostile_string_attr(rng)
            ops.append("attribute format: %s" % what)
            set_attr(f, "format", v)
        elif op == "config":
            text = f.attrs["config"]
            text = text.decode() if isinstance(text, bytes) else str(text)
            how = rng.choice(["mutated", "mutated", "mutated", "removed", "empty", "garbage", "half",
                              "other model", "2 MB", "strings", "int", "NUL"])
            ops.append("attribute config: %s" % how)
            if how == "mutated":
                sub = []
                v = mutate_config_text(rng, text, sub).decode("utf-8", "replace")
                ops.append("config text: " + "; ".join(sub))
            else:
                v = {"removed": None, "empty": "", "garbage": "model: [", "half": text[:len(text) // 2],
                     "other model": text.replace("units: 16", "units: 17"), "2 MB": text + "#" * (2 << 20),
                     "strings": np.array([text, text], dtype=h5py.string_dtype()), "int": np.int64(1),
                     "NUL": np.bytes_(text.encode()[:40] + b"\0" + text.encode()[40:])}[how]
            set_attr(f, "config", v)
        elif op == "overrides":
            what, v = rng.choice([
                ("bad value", ["train.epochs=abc"]), ("no '='", ["nokey"]), ("empty", [""]),
                ("5000", ["train.epochs=%d" % (i + 1) for i in range(5000)]), ("int", np.int64(3)),
                ("other model", ["model.layers.hidden.units=17"]), ("data", ["data.train=/dev/zero"]),
                ("rename a layer", ["model.layers.hidden.name=other"]), ("twice", ["seed=1", "seed=2"])])
            ops.append("attribute overrides: %s" % what)
            if rng.random() < 0.5:
                set_attr(f, "format_version", np.int64(1))
                ops.append("format_version 1 (overrides applied)")
            set_attr(f, "overrides", np.array(v, dtype=h5py.string_dtype()) if isinstance(v, list) else v)
        elif op == "optimizer":
            g = f["optimizer"]
            how = rng.choice(["type", "step", "drop-moment", "moment-dataset", "removed", "dataset", "moment-tensor"])
            if how == "type":
                what, v = rng.choice([("sgd", "sgd"), ("adamw", "adamw"), ("empty", ""), ("long", "adam" * 40),
                                      ("int", np.int64(1)), ("two strings", np.array(["adam", "sgd"],
                                                                                  dtype=h5py.string_dtype())),
                                      ("removed", None)])
                set_attr(g, "type", v)
            elif how == "step":
                what, v = hostile_int_attr(rng)
                set_attr(g, "step", v)
            elif how == "drop-moment":
                what = rng.choice(["m", "v"])
                del g[what]
            elif how == "moment-dataset":
                what = rng.choice(["m", "v"])
                del g[what]
                g[what] = np.zeros(3)
            elif how == "removed":
                what = ""
                del f["optimizer"]
            elif how == "dataset":
                what = ""
                del f["optimizer"]
                f["optimizer"] = np.zeros(3)
            else:
                what = rng.choice(["m", "v"]) + "/" + rng.choice(TENSORS[:3] + TENSORS[4:])
                mutate_tensor(rng, g, what, ops)
            ops.append("optimizer %s %s" % (how, what))
        elif op == "layer_names":
            g = f["model_weights"]
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in g.attrs["layer_names"]]
            how = rng.choice(["removed", "reversed", "extra", "missing", "empty", "int", "long", "duplicate",
                          "newline"])
            ops.append("layer_names %s" % how)
            v = {"removed": None, "reversed": names[::-1], "extra": names + ["extra"], "missing": names[:-1],
                 "empty": [], "int": np.int64(3), "long": names[:-1] + ["x" * 1000],
                 "duplicate": names[:1] * len(names), "newline": names[:-1] + ["log\nits"]}[how]
            set_attr(g, "layer_names", np.array(v, dtype=h5py.string_dtype()) if isinstance(v, list) else v)
        elif op == "weight_names":
            layer = rng.choice(LAYER_NAMES)
            v = rng.choice([None, np.int64(1), np.array(["x:0"], dtype=h5py.string_dtype())])
            ops.append("weight_names of %s: %r" % (layer, v))
            set_attr(f["model_weights"][layer], "weight_names", v)
        elif op == "tensor":
            mutate_tensor(rng, f["model_weights"], rng.choice(TENSORS), ops)
        else:
            how = rng.choice(["weights-removed", "weights-dataset", "layer-removed", "layer-renamed",
                              "layer-soft", "layer-external", "tensor-external-dev", "tensor-external-self"])
            ops.append(how)
            layer = rng.choice(["conv", "hidden", "logits", "bn"])
            w = f["model_weights"]
            if how == "weights-removed":
                del f["model_weights"]
            elif how == "weights-dataset":
                del f["model_weights"]
                f["model_weights"] = np.zeros(2)
            elif how == "layer-removed":
                del w[layer]
            elif how == "layer-renamed":
                w.move(layer, layer + "_x")
            elif how == "layer-soft":
                del w[layer]
                w[layer] = h5py.SoftLink("/nowhere")
            elif how == "layer-external":
                del w[layer]
                w[layer] = h5py.ExternalLink("missing.h5", "/x")
            elif how == "tensor-external-dev":
                t = rng.choice(TENSORS)
                del w[t]
                w[t] = h5py.ExternalLink("/dev/zero", "/x")
            else:
                t = rng.choice(TENSORS)
                del w[t]
                w[t] = h5py.ExternalLink("blobs-test.h5", "/images")


def set_attr(obj, name, v):
    if v is None:
        if name in obj.attrs:
            del obj.attrs[name]
    else:
        obj.attrs[name] = v


def mutate_tensor(rng, group, name, ops):
    d = group[name]
    x = d[()]
    how = rng.choice(["removed", "transpose", "flat", "extra-dim", "scalar", "empty", "float64", "float16",
                      "int32", "int8", "uint64", "string", "compound", "nan", "inf", "huge", "sparse", "group",
                      "soft", "bigger", "wrapped"])
    ops.append("tensor %s: %s" % (name, how))
    del group[name]
    if how == "removed":
        return
    if how in ("group", "soft"):
        if how == "group":
            group.create_group(name)
        else:
            group[name] = h5py.SoftLink("/nowhere")
        return
    if how in ("sparse", "wrapped"):
        # declared, never written: 2^31 rows, or a first size that is the true one plus
        # 2^32 (the same number in 32 bits)
        rows = 1 << 31 if how == "sparse" else x.shape[0] + (1 << 32)
        group.create_dataset(name, shape=(rows,) + x.shape[1:], dtype="f4", chunks=(1,) + x.shape[1:])
        return
    y = {"transpose": lambda: x.T.copy(), "flat": lambda: x.reshape(-1), "extra-dim": lambda: x[..., None],
         "scalar": lambda: x.reshape(-1)[0], "empty": lambda: x.reshape(-1)[:0], "float64": lambda: x.astype("f8"),
         "float16": lambda: x.astype("f2"), "int32": lambda: (x * 100).astype("i4"),
         "int8": lambda: (x * 100).astype("i1"), "uint64": lambda: np.full(x.shape, (1 << 64) - 1, np.uint64),
         "string": lambda: np.full(x.shape, "w", dtype=h5py.string_dtype()),
         "compound": lambda: np.zeros(x.shape, dtype=[("a", "f4"), ("b", "i4")]),
         "nan": lambda: np.where(np.arange(x.size).reshape(x.shape) == 0, np.nan, x).astype("f4"),
         "inf": lambda: np.full(x.shape, -np.inf, np.float32), "huge": lambda: np.full(x.shape, 3.4e38, np.float32),
         "bigger": lambda: np.zeros(tuple(s + 1 for s in x.shape), np.float32)}[how]()
    group.create_dataset(name, data=y)


# ---------------------------------------------------------------------------
# IDX and CIFAR-10 files


IDX_MAGICS = [0x801, 0x802, 0x804, 0x80B, 0x80C, 0x80D, 0x80E, 0x808, 0x803, 0x03080000, 0, 0xFFFFFFFF,
              0x1F8B0803, 0x80F, 0x800]
IDX_COUNTS = [0, 1, 2, 39, 41, 255, 256, 65535, 65536, 1 << 24, (1 << 31) - 1, 1 << 31, (1 << 32) - 1]


def mutate_idx_payload(rng, data, is_images, ops):
    header = 16 if is_images else 8
    data = bytearray(data)
    op = rng.choice(["magic", "count", "count", "dims", "truncate-header", "truncate", "append", "bytes",
                     "label-values", "empty"])
    if op in ("magic", "count", "dims", "truncate-header") and len(data) < header:
        op = "append"  # what is left of an earlier truncation has no header to change
    if op == "magic":
        m = rng.choice(IDX_MAGICS)
        struct.pack_into(">I", data, 0, m)
        ops.append("magic %#x" % m)
    elif op == "count":
        c = rng.choice(IDX_COUNTS)
        struct.pack_into(">I", data, 4, c)
        ops.append("count %d" % c)
    elif op == "dims" and is_images:
        h, w = rng.choice(IDX_COUNTS), rng.choice([0, 1, 8, 28, 65535, 65536, (1 << 32) - 1])
        struct.pack_into(">II", data, 8, h, w)
        ops.append("dims %dx%d" % (h, w))
    elif op == "truncate-header":
        cut = rng.randrange(header)
        data = data[:cut]
        ops.append("truncate to %d bytes (header)" % cut)
    elif op == "truncate" and len(data) > header:
        cut = rng.randrange(header, len(data))
        data = data[:cut]
        ops.append("truncate to %d bytes" % cut)
    elif op == "append":
        k = rng.choice([1, 64, 4096])
        data += bytes(rng.randrange(256) for _ in range(k))
        ops.append("append %d bytes" % k)
    elif op == "label-values" and not is_images and len(data) > header:
        v = rng.choice([4, 9, 10, 127, 128, 255])
        data[header + rng.randrange(len(data) - header)] = v
        ops.append("a label set to %d" % v)
    elif op == "empty":
        data = bytearray()
        ops.append("empty file")
    else:
        data = bytearray(byte_damage(rng, data, ops, header=header))
    return bytes(data)


def gzip_damage(rng, blob, ops):
    blob = bytearray(blob)
    op = rng.choice(["deflate-byte", "truncate", "magic", "flags", "isize", "crc", "two-members", "junk",
                     "bomb", "empty-member", "stored"])
    if op == "deflate-byte":
        p = rng.randrange(10, max(11, len(blob) - 8))
        blob[p] ^= 1 << rng.randrange(8)
        ops.append("gzip: bit flipped in the deflate stream at %d" % p)
    elif op == "truncate":
        cut = rng.randrange(len(blob))
        blob = blob[:cut]
        ops.append("gzip: truncated to %d bytes" % cut)
    elif op == "magic":
        blob[rng.randrange(2)] ^= 0xFF
        ops.append("gzip: magic damaged")
    elif op == "flags":
        blob[3] = rng.choice([0x04, 0x08, 0x10, 0x02, 0xE0, 0xFF])
        ops.append("gzip: flags %#x" % blob[3])
    elif op == "isize":
        struct.pack_into("<I", blob, len(blob) - 4, rng.choice([0, 1, 0xFFFFFFFF]))
        ops.append("gzip: ISIZE damaged")
    elif op == "crc":
        blob[len(blob) - 8] ^= 0x55
        ops.append("gzip: CRC damaged")
    elif op == "two-members":
        blob += gzip.compress(bytes(rng.randrange(256) for _ in range(100)), mtime=0)
        ops.append("gzip: a second member")
    elif op == "junk":
        blob += b"\0\0\0junk"
        ops.append("gzip: junk after the member")
    elif op == "bomb":
        n, side = rng.choice([(256, 128), (4096, 512), (1, 65535)])
        raw = struct.pack(">IIII", 0x803, n, side, side)
        comp = zlib.compressobj(9, zlib.DEFLATED, 31)
        body = comp.compress(raw)
        zero = bytes(1 << 20)
        for _ in range(min(n * side * side >> 20, 4096)):
            body += comp.compress(zero)
        blob = bytearray(body + comp.flush())
        ops.append("gzip: %d zero images of %dx%d (a bomb)" % (n, side, side))
    elif op == "empty-member":
        blob = bytearray(gzip.compress(b"", mtime=0))
        ops.append("gzip: an empty member")
    else:
        comp = zlib.compressobj(0, zlib.DEFLATED, 31)
        blob = bytearray(comp.compress(gzip.decompress(bytes(blob))) + comp.flush())
        blob[rng.randrange(len(blob))] ^= 0x01
        ops.append("gzip: stored blocks, a bit flipped")
    return bytes(blob)


# ---------------------------------------------------------------------------
# Making the cases


class Case:
    def __init__(self, kind, index, directory):
        self.kind, self.index, self.dir = kind, index, directory
        self.ops, self.commands, self.names, self.files = [], [], [], []
        self.ranks = 1

    @property
    def label(self):
        return "%s-%04d" % (self.kind, self.index)


class Maker:
    def __init__(self, seeds, work, seed, mpi_share):
        self.seeds, self.work, self.seed, self.mpi_share = seeds, work, seed, mpi_share
        self.dataset_specs = {}

    def new_case(self, kind, index):
        rng = random.Random("%s:%s:%d" % (self.seed, kind, index))
        d = os.path.join(self.work, kind, "%04d" % index)
        if os.path.exists(d):
            shutil.rmtree(d)
        os.makedirs(d)
        for name in ("blobs-train.h5", "blobs-test.h5", "seed.yaml"):
            os.symlink(self.seeds.path(name), os.path.join(d, name))
        case = Case(kind, index, d)
        getattr(self, "make_" + kind)(rng, case)
        if any(c[0] in ("train", "eval", "predict") for c in case.commands) and rng.random() < self.mpi_share:
            case.ranks = 2
        return case

    def write(self, case, name, data):
        open(os.path.join(case.dir, name), "wb").write(data)
        case.files.append(name)

    def make_config(self, rng, case):
        name = "c%04d.yaml" % case.index
        blob = SEED_CONFIG.encode()
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            blob = mutate_config_text(rng, blob.decode("utf-8", "replace"), case.ops)
        self.write(case, name, blob)
        case.names = [name] + config_related_names(blob)
        case.commands = [["summary", name], ["train", name]]

    def make_set(self, rng, case):
        sets, touches_length = [], False
        for _ in range(rng.choice([1, 1, 2, 3, 4])):
            r = rng.random()
            if r < 0.55:
                key = rng.choice(SECTION_KEYS)
            elif r < 0.8:
                key = "model.layers.%s.%s" % (rng.choice(LAYER_NAMES + ["nosuch"]), rng.choice(LAYER_KEYS))
            elif r < 0.9:
                key = rng.choice(["train", "data.augment", "model.layers", "model.layers.conv", "train.optimizer.lr.x",
                                  "bogus", "train.bogus", "model.layers.conv.bogus", "activations.x",
                                  "data.augment.random_crop", "x" * 300, "model.layers..units", "train..epochs",
                                  ".epochs", "train.", "model.layers.conv.", "model.layers.", "\u00e9.x"])
            else:
                text = rng.choice(["noequals", "=5", "==", "=", "train.epochs", "train.epochs==3", " =1",
                                   "train.epochs =3", "train. epochs=3"])
                sets.append(text)
                key = text.split("=")[0]
                leaf = key.split(".")[-1]
                case.names += ["--set " + text, key.strip() or text, leaf.strip(), "'%s'" % key, "'%s'" % leaf]
                continue
            value = hostile_value(rng, key.split(".")[-1]) if rng.random() < 0.85 else rng.choice(
                ["", "1\n2", "a=b", "\t", "[", "{a:", "'", "*x", "&a", "x" * 2000])
            sets.append("%s=%s" % (key, value))
            parent, _, leaf = key.rpartition(".")
            # the key, its last part quoted as messages quote keys, the value, and a
            # section the key makes (data.augment.random_shift: needs the key 'max')
            case.names += [key, leaf, "'%s'" % leaf, value.strip()] + ([parent] if "." in parent else [])
            touches_length |= key in ("train.max_steps", "train.epochs")
        case.ops = ["--set " + s[:80] for s in sets]
        argv = []
        for s in sets:
            argv += ["--set", s]
        case.names = [n for n in case.names if len(n) >= 2]  # a 1-character name is in every message
        case.commands = [["summary", "seed.yaml"] + argv]
        if not touches_length:
            case.commands.append(["train", "seed.yaml"] + argv)

    def make_dataset(self, rng, case):
        name = "d%04d.h5" % case.index
        seed_name = rng.choice(["blobs-train.h5", "blobs-train.h5", "converted.h5", "blobs-float.h5"])
        case.ops.append("from " + seed_name)
        path = os.path.join(case.dir, name)
        if rng.random() < 0.35:
            data = open(self.seeds.path(seed_name), "rb").read()
            for _ in range(rng.choice([1, 1, 2, 3])):
                data = byte_damage(rng, data, case.ops)
            self.write(case, name, data)
        else:
            for attempt in range(5):
                spec = dataset_spec(self.seeds.path(seed_name))
                ops = []
                try:
                    for _ in range(rng.choice([1, 1, 1, 2])):
                        spec = mutate_dataset_spec(rng, spec, ops)
                    write_spec(path, spec)
                    break
                except Exception as e:  # a combination h5py cannot write: draw another
                    case.ops.append("(not writable: %s: %s)" % ("; ".join(ops), str(e)[:80]))
            else:
                shutil.copyfile(self.seeds.path(seed_name), path)
            case.ops += ops
            case.files.append(name)
        case.names = [name]
        role = rng.choice(["train", "train", "test"])
        sets = ["--set", "data.%s=%s" % (role, name)]
        if any(o.startswith("targets") for o in case.ops):
            # /targets are for the mse loss, which the seed's /labels sets do not suit:
            # the file is both sets
            sets = ["--set", "model.loss=mse", "--set", "data.train=%s" % name, "--set", "data.test=%s" % name]
        case.commands = [["train", "seed.yaml"] + sets + ["--set", "train.log_every=1000", "--set", "checkpoint.dir=run"],
                         ["eval", self.seeds.path("seed-ckpt.h5"), "--data", name]]

    def make_checkpoint(self, rng, case):
        name = "k%04d.h5" % case.index
        path = os.path.join(case.dir, name)
        shutil.copyfile(self.seeds.path("seed-ckpt.h5"), path)
        case.files.append(name)
        if rng.random() < 0.35:
            data = open(path, "rb").read()
            for _ in range(rng.choice([1, 1, 2, 3])):
                data = byte_damage(rng, data, case.ops)
            open(path, "wb").write(data)
        else:
            for attempt in range(5):
                ops = []
                try:
                    for _ in range(rng.choice([1, 1, 1, 2])):
                        mutate_checkpoint(rng, path, ops)
                    break
                except Exception as e:
                    case.ops.append("(not writable: %s: %s)" % ("; ".join(ops), str(e)[:80]))
                    shutil.copyfile(self.seeds.path("seed-ckpt.h5"), path)
            case.ops += ops
        case.names = [name]
        case.commands = [["train", "seed.yaml", "--resume", name, "--set", "train.max_steps=5",
                          "--set", "checkpoint.dir=run", "--set", "train.log_every=1000"],
                         ["eval", name, "--data", "blobs-test.h5"],
                         ["predict", name, "--data", "blobs-test.h5", "--out", "predictions.h5"]]

    def make_idx(self, rng, case):
        fmt = rng.choice(["idx", "idx", "idx-gz", "idx-gz", "cifar"])
        out = ["--out", "out.h5"]
        if rng.random() < 0.3:
            out += ["--compress", str(rng.randint(1, 9))] + (["--shuffle"] if rng.random() < 0.5 else [])
        if fmt == "cifar":
            name = "b%04d.bin" % case.index
            data = open(self.seeds.path("cifar.bin"), "rb").read()
            op = rng.choice(["bytes", "bytes", "label", "partial", "empty", "many"])
            if op == "label":
                data = bytearray(data)
                v = rng.choice([10, 11, 127, 128, 255])
                data[3073 * rng.randrange(4)] = v
                data = bytes(data)
                case.ops.append("a label set to %d" % v)
            elif op == "partial":
                k = rng.choice([1, 3072, 3074, 100])
                data = data[:k] if k < len(data) else data + bytes(k)
                case.ops.append("%d bytes" % len(data))
            elif op == "empty":
                data = b""
                case.ops.append("empty file")
            elif op == "many":
                data = data * rng.choice([2, 50])
                case.ops.append("%d records" % (len(data) // 3073))
            else:
                for _ in range(rng.choice([1, 2])):
                    data = byte_damage(rng, data, case.ops, header=3073)
            self.write(case, name, data)
            files = [name]
            if rng.random() < 0.3:
                files = rng.choice([[self.seeds.path("cifar.bin"), name], [name, name], [name, "."],
                                    [name, "/dev/null"]])
                case.ops.append("files: %s" % " ".join(os.path.basename(f) for f in files))
            # a message about one of the other files names that one
            case.names = [name] + [f if len(f) > 1 else f + " is" for f in files if f != name]
            case.commands = [["convert", "cifar10"] + out + files]
            return
        gz = fmt == "idx-gz"
        target = rng.choice(["images", "images", "labels"])
        images = open(self.seeds.path("images.idx"), "rb").read()
        labels = open(self.seeds.path("labels.idx"), "rb").read()
        payload = images if target == "images" else labels
        name = "%s%04d.idx%s" % ("i" if target == "images" else "l", case.index, ".gz" if gz else "")
        if gz and rng.random() < 0.5:
            blob = gzip_damage(rng, gzip.compress(payload, mtime=0), case.ops)
        else:
            for _ in range(rng.choice([1, 1, 2])):
                payload = mutate_idx_payload(rng, payload, target == "images", case.ops)
            blob = gzip.compress(payload, mtime=0) if gz else payload
        self.write(case, name, blob)
        other = self.seeds.path(("labels" if target == "images" else "images") + ".idx" + (".gz" if gz else ""))
        img, lab = (name, other) if target == "images" else (other, name)
        extra = []
        if rng.random() < 0.2:
            # names enough for the seed's labels (0 to 3): a message about them would not be the mutation's
            extra = ["--class-names", rng.choice(["a,b,c,d", "a,b,c,d,e,f,g,h,i,j", "\u00e9,b,c,d", "a,b,c,d,"])]
        case.names = [name]
        case.commands = [["convert", "idx", "--images", img, "--labels", lab] + extra + out]


# ---------------------------------------------------------------------------
# Running the cases


def run_case(runner, case):
    results = []
    worst, reason = "accepted", ""
    for argv in case.commands:
        ranks = case.ranks if argv[0] in ("train", "eval", "predict") else 1
        res = runner.run(argv, case.dir, ranks)
        outcome, why = judge(res, case.names)
        res["outcome"], res["reason"] = outcome, why
        results.append(res)
        if SEVERITY[outcome] > SEVERITY[worst] or (outcome == worst and not reason):
            worst, reason = outcome, ("%s: %s" % (argv[0], why)) if why else ""
    return case, worst, reason, results


def save_failure(out, runner, case, results):
    dest = os.path.join(out, "failures", case.label)
    if os.path.exists(dest):
        shutil.rmtree(dest)
    os.makedirs(dest)
    for name in case.files:
        src = os.path.join(case.dir, name)
        if os.path.exists(src):
            shutil.copyfile(src, os.path.join(dest, name))
    env = " ".join("%s=%s" % (k, shlex.quote(runner.env[k])) for k in sorted(runner.env)
                   if k.startswith(("ASAN_", "LSAN_", "UBSAN_", "OMPI_", "OMP_", "SHARDNET_")))
    with open(os.path.join(dest, "repro.sh"), "w") as f:
        f.write("#!/bin/sh\n# %s: %s\ncd \"$(dirname \"$0\")\"\n" % (case.label, "; ".join(case.ops)[:2000]))
        f.write("for s in blobs-train.h5 blobs-test.h5 seed.yaml; do [ -e $s ] || ln -s %s/$s .; done\n"
                % shlex.quote(os.path.abspath(os.path.join(out, "seeds"))))
        for res in results:
            f.write("env %s %s\n" % (env, " ".join(shlex.quote(a) for a in runner.command_line(res["argv"],
                                                                                              res["ranks"]))))
    with open(os.path.join(dest, "log.txt"), "w") as f:
        f.write("case %s\nmutations: %s\n" % (case.label, "; ".join(case.ops)))
        for res in results:
            f.write("\n$ shardnet %s  (ranks %d)\n-> %s %s\nexit %s%s, %.1f s\n--- stdout\n%s--- stderr\n%s" % (
                " ".join(shlex.quote(a) for a in res["argv"]), res["ranks"], res["outcome"], res["reason"],
                res["status"], " ranks %s" % res["rank_codes"] if res["rank_codes"] is not None else "",
                res["seconds"], res["stdout"][-20000:], res["stderr"][-50000:]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", nargs="?", type=int, default=400, help="inputs of each kind (400)")
    ap.add_argument("seed", nargs="?", type=int, default=1, help="what every choice is drawn from (1)")
    ap.add_argument("--binary", default=os.environ.get("SHARDNET", os.path.join(SOURCE, "build/sanitize/shardnet")))
    ap.add_argument("--out", default=os.path.join(SOURCE, "build/campaign"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--only", help="KIND:INDEX, one case")
    ap.add_argument("--mpi-share", type=float, default=0.05)
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        sys.exit("campaign: no binary %s; build it with\n  cmake -S . -B build/sanitize -DCMAKE_BUILD_TYPE=Debug "
                 "-DSN_SANITIZE=ON -DSN_WERROR=ON && cmake --build build/sanitize -j2" % binary)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    if os.path.exists(os.path.join(out, "failures")):
        shutil.rmtree(os.path.join(out, "failures"))
    runner = Runner(binary, args.timeout)
    seeds = Seeds(runner, os.path.join(out, "seeds"))
    started = time.monotonic()
    seeds.make()
    log("campaign: %s, %d inputs of each kind, seed %d, %d jobs, seeds made in %.0f s" % (
        binary, args.n, args.seed, args.jobs, time.monotonic() - started))
    maker = Maker(seeds, os.path.join(out, "work"), args.seed, args.mpi_share)
    if args.only:
        kind, _, index = args.only.partition(":")
        plan = [(kind, [int(index)])]
    else:
        plan = [(k, range(args.n)) for k in args.kinds.split(",")]
    table, bad_cases = [], []
    with open(os.path.join(out, "results.tsv"), "w") as tsv:
        tsv.write("case\toutcome\tseconds\tranks\tmutations\treason\n")
        for kind, indices in plan:
            if kind not in KINDS:
                sys.exit("campaign: unknown kind %r (%s)" % (kind, ", ".join(KINDS)))
            t0 = time.monotonic()
            counts = {o: 0 for o in OUTCOMES}
            with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
                futures = [pool.submit(run_case, runner, maker.new_case(kind, i)) for i in indices]
                for fut in concurrent.futures.as_completed(futures):
                    case, outcome, reason, results = fut.result()
                    counts[outcome] += 1
                    seconds = sum(r["seconds"] for r in results)
                    tsv.write("%s\t%s\t%.1f\t%d\t%s\t%s\n" % (case.label, outcome, seconds, case.ranks,
                                                             "; ".join(case.ops).replace("\t", " ")[:1000],
                                                             reason.replace("\t", " ").replace("\n", " ")))
                    tsv.flush()
                    if outcome not in ("accepted", "rejected-good"):
                        save_failure(out, runner, case, results)
                        bad_cases.append((case.label, outcome, reason, case.ops))
                        log("  %s %s: %s\n      mutations: %s" % (case.label, outcome.upper(), reason[:400],
                                                                  "; ".join(case.ops)[:400]))
                    if not args.only:
                        shutil.rmtree(case.dir, ignore_errors=True)
            table.append((kind, len(indices), counts, time.monotonic() - t0))
            log("campaign: %s done in %.0f s" % (KIND_TITLES[kind], time.monotonic() - t0))
    if seeds.checksums() != seeds.sums:
        bad_cases.append(("seeds", "bad-message", "a seed file changed during the campaign", []))
        log("campaign: a seed file in %s changed during the campaign" % seeds.root)
    head = "%-12s %6s %9s %14s %12s %6s %5s %8s" % ("kind", "cases", "accepted", "rejected-good", "bad-message",
                                                      "crash", "hang", "seconds")
    lines = [head]
    total = {o: 0 for o in OUTCOMES}
    for kind, n, counts, secs in table:
        lines.append("%-12s %6d %9d %14d %12d %6d %5d %8.0f" % (KIND_TITLES[kind], n, counts["accepted"],
                                                                counts["rejected-good"], counts["bad-message"],
                                                                counts["crash"], counts["hang"], secs))
        for o in OUTCOMES:
            total[o] += counts[o]
    lines.append("%-12s %6d %9d %14d %12d %6d %5d %8.0f" % ("total", sum(t[1] for t in table), total["accepted"],
                                                            total["rejected-good"], total["bad-message"],
                                                            total["crash"], total["hang"], time.monotonic() - started))
    summary = "\n".join(lines)
    open(os.path.join(out, "summary.txt"), "w").write(summary + "\n")
    log("")
    log(summary)
    if bad_cases:
        log("\n%d case(s) crashed, hung or got a bad message; inputs, commands and output in %s/failures/" % (
            len(bad_cases), out))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
