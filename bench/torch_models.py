#!/usr/bin/python3
"""The `shardnet bench` models in PyTorch, built from the same configs/NAME.yaml, timed
with the same step (zero_grad, forward in training mode, loss, backward, optimizer
step) on random data, printing lines in the format of `shardnet bench --csv`.

Run with Debian's interpreter, which has python3-torch: /usr/bin/python3 bench/torch_models.py
"""
import argparse
import os
import statistics
import sys
import time

try:
    import torch
    import yaml
except ImportError as e:  # the pyenv python3 on PATH has neither
    sys.exit(f"torch_models.py: error: {e}; install python3-torch python3-yaml and run "
             f"with /usr/bin/python3")

ACTIVATIONS = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid,
               "elu": torch.nn.ELU, "leaky_relu": torch.nn.LeakyReLU}


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def padding_of(spec, kernel, stride, where):
    """TensorFlow-style `same` is symmetric only for odd kernels at stride 1, which is
    all the example models use; anything else would need asymmetric padding."""
    pad = spec.get("padding", "valid")
    if pad == "valid":
        return (0, 0)
    if pad == "same":
        if any(k % 2 == 0 for k in kernel) or stride != (1, 1):
            sys.exit(f"torch_models.py: error: {where}: padding 'same' needs odd kernels "
                     f"at stride 1 here")
        return (kernel[0] // 2, kernel[1] // 2)
    return pair(pad)


def build_model(cfg, where):
    """A torch.nn.Sequential equal to the config's layer list (sequential models only)."""
    c, h, w = cfg["model"]["input"]
    shape = (c, h, w)
    layers = []
    for spec in cfg["model"]["layers"]:
        kind = spec["type"]
        name = spec.get("name", kind)
        if "inputs" in spec:
            sys.exit(f"torch_models.py: error: {where}: layer {name} has 'inputs'; only "
                     f"sequential models are translated")
        if kind == "conv2d":
            k, s = pair(spec["kernel"]), pair(spec.get("stride", 1))
            p = padding_of(spec, k, s, where)
            layers.append(torch.nn.Conv2d(shape[0], spec["filters"], k, s, p,
                                          bias=spec.get("bias", True)))
        elif kind in ("maxpool2d", "avgpool2d"):
            k = pair(spec["size"])
            s = pair(spec.get("stride", spec["size"]))
            p = padding_of(spec, k, s, where)
            pool = torch.nn.MaxPool2d if kind == "maxpool2d" else torch.nn.AvgPool2d
            layers.append(pool(k, s, p))
        elif kind == "flatten":
            layers.append(torch.nn.Flatten())
        elif kind == "dense":
            if len(shape) != 1:
                sys.exit(f"torch_models.py: error: {where}: dense layer {name} needs a "
                         f"flatten before it")
            layers.append(torch.nn.Linear(shape[0], spec["units"], bias=spec.get("bias", True)))
        elif kind == "dropout":
            layers.append(torch.nn.Dropout(spec["rate"]))
        elif kind in ACTIVATIONS:
            layers.append(ACTIVATIONS[kind]())
        else:
            sys.exit(f"torch_models.py: error: {where}: layer type {kind} is not translated")
        if spec.get("activation", "none") != "none":
            layers.append(ACTIVATIONS[spec["activation"]]())
        with torch.no_grad():  # the next layer's input shape
            shape = tuple(torch.nn.Sequential(*layers)(torch.zeros(1, c, h, w)).shape[1:])
    return torch.nn.Sequential(*layers), shape


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


def run(name, cfg, args, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(cfg.get("seed", 1))
    model, out_shape = build_model(cfg, f"{name}.yaml")
    model.train()
    opt = make_optimizer(cfg["train"]["optimizer"], model.parameters())
    x = torch.rand(args.batch, *cfg["model"]["input"])
    if cfg["model"].get("loss", "softmax_cross_entropy") == "mse":
        loss_fn, y = torch.nn.MSELoss(), torch.rand(args.batch, *out_shape)
    else:
        loss_fn, y = torch.nn.CrossEntropyLoss(), torch.randint(0, out_shape[0], (args.batch,))

    def step():
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return time.perf_counter() - t0

    for _ in range(args.warmup):
        step()
    times = [step() for _ in range(args.steps)]
    median, mean = statistics.median(times), statistics.fmean(times)
    rate = args.batch / median
    if args.csv:
        print(f"bench,pytorch,{name},{threads},{args.batch},{rate:.2f},{median * 1e3:.3f},"
              f"{mean * 1e3:.3f}")
    else:
        print(f"pytorch  {name:<14} threads {threads}: {rate:9.1f} images/s  (step median "
              f"{median * 1e3:.2f} ms, mean {mean * 1e3:.2f} ms, {args.steps} steps)")
    sys.stdout.flush()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--model", default="fashion_mnist,cifar_example")
    p.add_argument("--configs", default=os.path.join(os.path.dirname(here), "configs"))
    p.add_argument("--csv", action="store_true")
    args = p.parse_args()
    torch.set_num_interop_threads(1)
    if not args.csv:
        print(f"torch_models.py: PyTorch {torch.__version__}, batch {args.batch}, "
              f"{args.warmup} warm-up + {args.steps} timed steps; images/s from the median step")
    for name in args.model.split(","):
        with open(os.path.join(args.configs, name + ".yaml")) as f:
            cfg = yaml.safe_load(f)
        for t in args.threads.split(","):
            run(name, cfg, args, int(t))


if __name__ == "__main__":
    main()
