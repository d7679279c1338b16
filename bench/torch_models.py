#!/usr/bin/python3
"""The `shardnet bench` models in PyTorch, built from the same configs/NAME.yaml, timed
with the same step (zero_grad, forward in training mode, loss, backward, optimizer
step) on random data, printing lines in the format of `shardnet bench --csv`.

Run with Debian's interpreter, which has python3-torch: /usr/bin/python3 bench/torch_models.py

Variants (--variant, a comma list; each prints its own framework name):
  default        fp32, NCHW                                          -> pytorch
  channels_last  fp32, model and input in torch.channels_last        -> pytorch_cl
  bf16           channels_last, forward and loss under CPU autocast
                 to bfloat16 (parameters and optimizer stay fp32)    -> pytorch_bf16_cl
"""
import argparse
import os
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
    import yaml
except ImportError as e:  # the pyenv python3 on PATH has neither
    sys.exit(f"torch_models.py: error: {e}; install python3-torch python3-yaml and run "
             f"with /usr/bin/python3")

# name -> (framework name printed, memory format, autocast dtype or None)
VARIANTS = {
    "default": ("pytorch", torch.contiguous_format, None),
    "channels_last": ("pytorch_cl", torch.channels_last, None),
    "bf16": ("pytorch_bf16_cl", torch.channels_last, torch.bfloat16),
}

# shardnet's activations; alpha defaults as in its sn_parse_activation_alpha (which are
# also PyTorch's).
ACTIVATIONS = {
    "relu": lambda a: torch.nn.ReLU(),
    "tanh": lambda a: torch.nn.Tanh(),
    "sigmoid": lambda a: torch.nn.Sigmoid(),
    "elu": lambda a: torch.nn.ELU(a if a is not None else 1.0),
    "leaky_relu": lambda a: torch.nn.LeakyReLU(a if a is not None else 0.01),
}

# Layer types that join several inputs; every other type reads exactly one (as in the
# min_inputs/max_inputs of the C layer ops, SN_MAX_INPUTS = 8).
JOINS = ("add", "concat")
MAX_INPUTS = 8


class ConfigError(Exception):
    pass


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def same_padding(size, kernel, stride):
    """(before, after) along one axis, as shardnet's sn_conv_same_padding: the
    output is ceil(size / stride) and an odd total puts the extra pixel after (the
    TensorFlow rule), so stride 2 and even kernels pad asymmetrically."""
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def paddings(spec, hw, kernel, stride):
    """((top, bottom), (left, right)) of a conv2d or pooling layer's `padding:`."""
    pad = spec.get("padding", "valid")
    if pad == "valid":
        return (0, 0), (0, 0)
    if pad == "same":
        return (same_padding(hw[0], kernel[0], stride[0]),
                same_padding(hw[1], kernel[1], stride[1]))
    if isinstance(pad, str):
        raise ConfigError(f"padding must be valid, same or a number of pixels, got '{pad}'")
    ph, pw = pair(pad)
    return (ph, ph), (pw, pw)


def symmetric(pads):
    """(ph, pw) when top == bottom and left == right, which the torch layers can pad
    themselves (cheaper than a separate F.pad copy), else None."""
    (t, b), (l, r) = pads
    return (t, l) if t == b and l == r else None


class Pad(torch.nn.Module):
    """Asymmetric zero (or -inf) padding before a layer that cannot pad that way."""

    def __init__(self, pads, value=0.0):
        super().__init__()
        (t, b), (l, r) = pads
        self.pad, self.value = (l, r, t, b), value

    def forward(self, x):
        return F.pad(x, self.pad, value=self.value)


class ClippedAvgPool(torch.nn.Module):
    """Average pooling that, like shardnet's (src/layers/pool2d.c), averages only the
    cells of a window inside the input: padded cells are neither summed nor counted.
    torch's count_include_pad=False does that only for symmetric padding."""

    def __init__(self, kernel, stride, pads, hw):
        super().__init__()
        self.pad = Pad(pads)
        self.pool = torch.nn.AvgPool2d(kernel, stride)
        with torch.no_grad():  # the fraction of each window inside the input
            self.register_buffer("inside", self.pool(self.pad(torch.ones(1, 1, *hw))))

    def forward(self, x):
        return self.pool(self.pad(x)) / self.inside.to(x.dtype)


class MinPool(torch.nn.Module):
    def __init__(self, maxpool):
        super().__init__()
        self.maxpool = maxpool

    def forward(self, x):
        return -self.maxpool(-x)


class Add(torch.nn.Module):
    def forward(self, *xs):
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        return y


class Concat(torch.nn.Module):
    """Along channels (3-D samples) or units (1-D), as src/layers/concat.c."""

    def forward(self, *xs):
        return torch.cat(xs, 1)


class GlobalAvgPool(torch.nn.Module):
    def forward(self, x):
        return x.mean((2, 3))


class Graph(torch.nn.Module):
    """The config's layer list as a graph: layer i reads the outputs of sources[i]
    (-1 is the network input) and the last layer's output is the network's."""

    def __init__(self, names, layers, sources):
        super().__init__()
        self.names = names
        self.layers = torch.nn.ModuleList(layers)
        self.sources = sources

    def forward(self, x):
        outs = []
        for layer, src in zip(self.layers, self.sources):
            outs.append(layer(*[x if j < 0 else outs[j] for j in src]))
        return outs[-1]


def layer_names(layers):
    """Each layer's name as src/net/model_spec.c sn_model_spec_names gives it: its
    `name:`, else TYPE_K with K one more than the earlier layers of that type (bumped
    past names already taken)."""
    names = []
    for i, spec in enumerate(layers):
        if spec.get("name") not in (None, ""):
            names.append(str(spec["name"]))
            continue
        kind = spec["type"]
        k = 1 + sum(1 for s in layers[:i] if s["type"] == kind)
        while f"{kind}_{k}" in names:
            k += 1
        names.append(f"{kind}_{k}")
    return names


def sources_of(spec, i, names):
    """Indices of the layers spec reads, as src/net/net.c connect_inputs: the previous
    layer unless it names `inputs:`, where `input` is the network input (-1)."""
    if "inputs" not in spec:
        return [i - 1]
    inputs = spec["inputs"]
    if not isinstance(inputs, list):
        inputs = [inputs]
    if len(inputs) > MAX_INPUTS:
        raise ConfigError(f"inputs names more than {MAX_INPUTS} layers")
    src = []
    for n in map(str, inputs):
        if n == "input":
            src.append(-1)
        elif n in names[:i]:
            src.append(names.index(n))  # names are unique (checked by the caller)
        else:
            raise ConfigError(f"inputs names '{n}', which is not an earlier layer")
    return src


def make_layer(spec, shapes):
    """The torch module of one layer given its input shapes (without the batch)."""
    kind = spec["type"]
    shape = shapes[0]
    if kind in JOINS:
        if len(shapes) < 2:
            raise ConfigError(f"takes 2 to {MAX_INPUTS} inputs (name them with "
                              f"'inputs: [a, b]'), got {len(shapes)}")
        if kind == "add" and any(s != shape for s in shapes):
            raise ConfigError(f"needs inputs of one shape, got {shapes}")
        if kind == "concat" and any(len(s) != len(shape) or s[1:] != shape[1:] for s in shapes):
            raise ConfigError(f"joins inputs that differ only in channels, got {shapes}")
        return Add() if kind == "add" else Concat()
    if len(shapes) != 1:
        raise ConfigError(f"takes 1 input(s), got {len(shapes)}")
    mods = []
    if kind in ("conv2d", "maxpool2d", "avgpool2d", "minpool2d", "global_avgpool2d"):
        if len(shape) != 3:
            raise ConfigError(f"needs a 3-D (channels, height, width) input but gets {shape}")
    if kind == "conv2d":
        k, s = pair(spec["kernel"]), pair(spec.get("stride", 1))
        pads = paddings(spec, shape[1:], k, s)
        p = symmetric(pads)
        if p is None:
            mods.append(Pad(pads))
        mods.append(torch.nn.Conv2d(shape[0], spec["filters"], k, s, p or 0,
                                    bias=spec.get("bias", True)))
    elif kind in ("maxpool2d", "avgpool2d", "minpool2d"):
        k = pair(spec["size"])
        s = pair(spec.get("stride", spec["size"]))  # the stride defaults to the window
        pads = paddings(spec, shape[1:], k, s)
        p = symmetric(pads)
        # torch pads inside a pooling layer only up to half the window
        inside = p is not None and p[0] <= k[0] // 2 and p[1] <= k[1] // 2
        if kind == "avgpool2d":
            mods.append(torch.nn.AvgPool2d(k, s, p, count_include_pad=False) if inside
                        else ClippedAvgPool(k, s, pads, shape[1:]))
        else:
            if not inside:  # -inf cells never win a max
                mods.append(Pad(pads, float("-inf")))
            pool = torch.nn.MaxPool2d(k, s, p if inside else 0)
            mods.append(pool if kind == "maxpool2d" else MinPool(pool))
    elif kind == "global_avgpool2d":
        mods.append(GlobalAvgPool())
    elif kind == "batchnorm2d":
        # shardnet's momentum is Keras's, the share of the moving average kept each step
        # (src/layers/batchnorm2d.c, default 0.99, epsilon 1e-3); torch's is the share
        # of the batch statistic taken.
        bn = torch.nn.BatchNorm2d if len(shape) == 3 else torch.nn.BatchNorm1d
        mods.append(bn(shape[0], eps=spec.get("epsilon", 1e-3),
                       momentum=1.0 - spec.get("momentum", 0.99)))
    elif kind == "flatten":
        mods.append(torch.nn.Flatten())
    elif kind == "dense":
        if len(shape) != 1:
            raise ConfigError(f"needs a 1-D input but gets {shape}; add a flatten layer before it")
        mods.append(torch.nn.Linear(shape[0], spec["units"], bias=spec.get("bias", True)))
    elif kind == "dropout":
        mods.append(torch.nn.Dropout(spec["rate"]))
    elif kind in ACTIVATIONS:
        mods.append(ACTIVATIONS[kind](spec.get("alpha")))
    else:
        raise ConfigError(f"layer type {kind} is not translated to PyTorch")
    act = spec.get("activation", "none")
    if kind not in ACTIVATIONS and act != "none":
        if act not in ACTIVATIONS:
            raise ConfigError(f"activation {act} is not translated to PyTorch")
        mods.append(ACTIVATIONS[act](spec.get("alpha")))
    return mods[0] if len(mods) == 1 else torch.nn.Sequential(*mods)


def build_model(cfg, where):
    """A Graph equal to the config's layers, and its output shape (without the batch)."""
    names = layer_names(cfg["model"]["layers"])
    layers, sources, shapes = [], [], []
    input_shape = tuple(cfg["model"]["input"])
    for i, spec in enumerate(cfg["model"]["layers"]):
        what = f"{where}: layer '{names[i]}' ({spec.get('type')})"
        try:
            if names[i] in names[:i] or names[i] == "input":
                raise ConfigError(f"name '{names[i]}' is used by an earlier layer")
            src = sources_of(spec, i, names)
            in_shapes = [input_shape if j < 0 else shapes[j] for j in src]
            layer = make_layer(spec, in_shapes)
            layer.eval()  # a shape probe must not move batchnorm's moving averages
            with torch.no_grad():  # the output shape, from a probe of batch 1
                out = layer(*[torch.zeros(1, *s) for s in in_shapes])
        except ConfigError as e:
            sys.exit(f"torch_models.py: error: {what}: {e}")
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            sys.exit(f"torch_models.py: error: {what}: cannot build it: {e!r}")
        layers.append(layer)
        sources.append(src)
        shapes.append(tuple(out.shape[1:]))
    model = Graph(names, layers, sources)
    model.train()
    return model, shapes[-1]


def make_optimizer(spec, params):
    kind = spec["type"]
    wd = spec.get("weight_decay", 0.01 if kind == "adamw" else 0.0)
    if kind == "sgd":
        return torch.optim.SGD(params, lr=spec.get("lr", 0.01), momentum=spec.get("momentum", 0.0),
                               nesterov=spec.get("nesterov", False), weight_decay=wd)
    betas = (spec.get("beta1", 0.9), spec.get("beta2", 0.999))
    opt = torch.optim.AdamW if kind == "adamw" else torch.optim.Adam
    return opt(params, lr=spec.get("lr", 0.001), betas=betas, eps=spec.get("eps", 1e-8),
               weight_decay=wd)


def count_params(model):
    """(trainable, non-trainable) as `shardnet summary` counts them: batchnorm's moving
    mean and variance are its non-trainable ones (num_batches_tracked is torch's own)."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    state = sum(b.numel() for n, b in model.named_buffers()
                if n.endswith(("running_mean", "running_var")))
    return trainable, state


def run(name, cfg, args, threads, variant):
    framework, memory_format, autocast_dtype = VARIANTS[variant]
    torch.set_num_threads(threads)
    torch.manual_seed(cfg.get("seed", 1))
    model, out_shape = build_model(cfg, f"{name}.yaml")
    model = model.to(memory_format=memory_format)
    opt = make_optimizer(cfg["train"]["optimizer"], model.parameters())
    x = torch.rand(args.batch, *cfg["model"]["input"]).contiguous(memory_format=memory_format)
    if cfg["model"].get("loss", "softmax_cross_entropy") == "mse":
        loss_fn, y = torch.nn.MSELoss(), torch.rand(args.batch, *out_shape)
    else:
        loss_fn, y = torch.nn.CrossEntropyLoss(), torch.randint(0, out_shape[0], (args.batch,))
    # Disabled autocast costs nothing, so every variant runs the same step code.
    autocast = torch.autocast("cpu", dtype=autocast_dtype or torch.bfloat16,
                              enabled=autocast_dtype is not None)

    def step():
        t0 = time.perf_counter()
        opt.zero_grad()
        with autocast:
            # .float(): the loss in fp32 whatever the output's dtype (a no-op in fp32)
            loss = loss_fn(model(x).float(), y)
        loss.backward()
        opt.step()
        return time.perf_counter() - t0

    for _ in range(args.warmup):
        step()
    times = [step() for _ in range(args.steps)]
    median, mean = statistics.median(times), statistics.fmean(times)
    rate = args.batch / median
    if args.csv:
        print(f"bench,{framework},{name},{threads},{args.batch},{rate:.2f},{median * 1e3:.3f},"
              f"{mean * 1e3:.3f}")
    else:
        print(f"{framework:<16} {name:<14} threads {threads}: {rate:9.1f} images/s  (step "
              f"median {median * 1e3:.2f} ms, mean {mean * 1e3:.2f} ms, {args.steps} steps)")
    sys.stdout.flush()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--model", default="fashion_mnist,cifar_example")
    p.add_argument("--variant", default="default",
                   help="comma list of " + ", ".join(VARIANTS) + " (default: default)")
    p.add_argument("--configs", default=os.path.join(os.path.dirname(here), "configs"))
    p.add_argument("--csv", action="store_true")
    args = p.parse_args()
    variants = args.variant.split(",")
    for v in variants:
        if v not in VARIANTS:
            p.error(f"--variant: unknown variant '{v}' (known: {', '.join(VARIANTS)})")
    torch.set_num_interop_threads(1)
    if not args.csv:
        print(f"torch_models.py: PyTorch {torch.__version__}, batch {args.batch}, "
              f"{args.warmup} warm-up + {args.steps} timed steps; images/s from the median step")
    for name in args.model.split(","):
        path = os.path.join(args.configs, name + ".yaml")
        try:
            with open(path) as f:
                cfg = yaml.safe_load(f)
        except OSError as e:
            sys.exit(f"torch_models.py: error: cannot read model {name}: {e}")
        if not args.csv:
            trainable, state = count_params(build_model(cfg, f"{name}.yaml")[0])
            print(f"{name}: {trainable} trainable parameters, {state} non-trainable")
        for t in args.threads.split(","):
            for v in variants:
                run(name, cfg, args, int(t), v)


if __name__ == "__main__":
    main()
