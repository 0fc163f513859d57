#!/usr/bin/python3
"""PyTorch DistributedDataParallel peer of the bandwidth study (bench/bandwidth_study.sh).

WGAN-GP on the digits set with the networks, optimiser and metric of inputs/wgan_digits.toml, on
K CPU processes (torch.multiprocessing, gloo over TCP), with one of three gradient exchanges:

  allreduce  DDP's float32 allreduce (default_hooks.allreduce_hook)
  fp16       default_hooks.fp16_compress_hook (gradients cast to float16 for the allreduce)
  powersgd   powerSGD_hook (rank --powersgd-rank, vanilla allreduce for the first
             --powersgd-start backward passes, error feedback and warm start on)

Same as Saddle's deck: G latent-W...-64 (tanh output), D 64-W...-1, LeakyReLU(0.2), the initial
parameters of Saddle's default init (uniform_fan_in, drawn from the same Philox4x32-10 streams
"init_generator"/"init_critic", so both sides start at the same point), Adam(1e-4, 0.5, 0.9) for
both players, 5 critic steps per generator step, lambda = 10, --batch rows per rank. The data is
Saddle's split of Debian's python3-sklearn digits.csv.gz (pixels / 8 - 1; a row is held out when
its Philox uniform of stream "split" is below 0.2), minibatches are drawn from the training rows
(torch's generator, one seed per rank: not Saddle's draws, so the trajectory is not Saddle's).
The metric is Saddle's sliced Wasserstein distance (apps/wgan/sliced_wasserstein.cpp): the first
n = min(--eval-samples, held-out rows) held-out rows against n samples of the generator at the
latent rows of Saddle's stream "eval_latent", over 64 directions of the stream "swd": the same
function of the generator's parameters as Saddle's /metrics/swd.

DDP and the penalty's double backward: each critic step makes ONE forward of the DDP critic over
the rows [fake; real; xhat] (as Saddle does), takes the penalty's input gradient with
torch.autograd.grad(..., inputs=xhat, create_graph=True) (which runs no parameter's
AccumulateGrad, so no DDP hook fires), then one loss.backward() through the double-backward graph:
every critic parameter's AccumulateGrad runs exactly once, so DDP allreduces each bucket once. No
static_graph or find_unused_parameters is needed. The generator step runs the critic's plain
module (critic.module, parameters frozen) so that only G's gradients are exchanged; the critic
steps run G's plain module under no_grad.

Output: a CSV (--out) with one row per logged step (step 0, then every --log-every):
  step, time_step (cumulative training wall seconds, max over ranks, excluding evaluation),
  swd, bytes (cumulative bytes this rank handed to dist.all_reduce during training: the payload
  per rank of every exchange, as Saddle's bytes_total / ranks), wasserstein (critic's estimate,
  rank 0's last critic step)

  /usr/bin/python3 bench/peers/wgan_ddp.py --ranks 2 --hook fp16 --steps 600 --out run.csv
Inside a network namespace with a shaped loopback it talks over lo (MASTER_ADDR=127.0.0.1,
GLOO_SOCKET_IFNAME=lo, both set here unless already set).
"""
import argparse
import csv
import gzip
import math
import os
import socket
import sys
import time
import warnings

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

# DDP warns that the critic's last weight (1 x W) gets gradients of other strides than its bucket
# view after the double backward (a copy per step; harmless).
warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")

DIGITS = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
MASK = np.uint64(0xFFFFFFFF)


# Saddle's counter-based random numbers (kernels/counter_rng.hpp), vectorised over the index.
def purpose_id(name):
    h = 2166136261
    for c in name.encode():
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    return h


def philox(index, step, k, key):
    """Philox4x32-10 of the counters (index lo, index hi, step, k) under key (k0, k1); 4 arrays."""
    index = np.asarray(index, dtype=np.uint64)
    c0, c1 = index & MASK, index >> np.uint64(32)
    c2 = np.full_like(c0, np.uint64(step))
    c3 = np.full_like(c0, np.uint64(k)) if np.isscalar(k) else np.asarray(k, dtype=np.uint64)
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    m0, m1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
    for r in range(10):
        if r:
            k0 = (k0 + np.uint64(0x9E3779B9)) & MASK
            k1 = (k1 + np.uint64(0xBB67AE85)) & MASK
        p0, p1 = m0 * c0, m1 * c2
        c0, c1, c2, c3 = (p1 >> np.uint64(32)) ^ c1 ^ k0, p1 & MASK, (p0 >> np.uint64(32)) ^ c3 ^ k1, p0 & MASK
    return c0, c1, c2, c3


class CounterRng:
    def __init__(self, seed, purpose):
        p = purpose_id(purpose) if isinstance(purpose, str) else purpose
        self.key = ((seed & 0xFFFFFFFF) ^ p, ((seed >> 32) & 0xFFFFFFFF) ^ ((p * 0x9E3779B9) & 0xFFFFFFFF))

    @staticmethod
    def unit(hi, lo):
        m = (hi << np.uint64(21)) ^ (lo >> np.uint64(11))
        return (m.astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)

    def uniform(self, index, step, k=0):
        v = philox(index, step, k, self.key)
        return self.unit(v[0], v[1])

    def normal2(self, index, step, k=0):
        v = philox(index, step, k, self.key)
        u0, u1 = self.unit(v[0], v[1]), self.unit(v[2], v[3])
        r, t = np.sqrt(-2.0 * np.log(u0)), 6.283185307179586476925 * u1
        return r * np.cos(t), r * np.sin(t)


def digits_split(seed, holdout=0.2, path=DIGITS):
    """(train, heldout) rows of Saddle's split (apps/wgan/data.cpp), float64."""
    with gzip.open(path) as f:
        pixels = np.loadtxt(f, delimiter=",")[:, :64] / 8.0 - 1.0
    held = CounterRng(seed, "split").uniform(np.arange(len(pixels)), 0) < holdout
    return pixels[~held], pixels[held]


def latent_rows(seed, purpose, rows, latent):
    """Saddle's Sampler::latent rows (not global), step 0: pairs from normal2(row, 0, j / 2)."""
    rng = CounterRng(seed, purpose)
    z = np.empty((rows, latent))
    idx = np.repeat(np.arange(rows, dtype=np.uint64), (latent + 1) // 2)
    k = np.tile(np.arange((latent + 1) // 2, dtype=np.uint64), rows)
    z0, z1 = rng.normal2(idx, 0, k)
    z0, z1 = z0.reshape(rows, -1), z1.reshape(rows, -1)
    z[:, 0::2] = z0[:, : (latent + 1) // 2]
    z[:, 1::2] = z1[:, : latent // 2]
    return z


def sliced_wasserstein(a, b, seed, projections=64):
    """apps/wgan/sliced_wasserstein.cpp on equal-size samples a and b (n x dim)."""
    n, dim = a.shape
    rng = CounterRng(seed, "swd")
    total = 0.0
    for p in range(projections):
        d = rng.normal2(np.arange(dim, dtype=np.uint64), p)[0]
        d = d / math.sqrt(float(np.dot(d, d)))
        pa, pb = np.sort(a @ d), np.sort(b @ d)
        total += float(np.sum((pa - pb) ** 2)) / n
    return math.sqrt(total / projections)


def saddle_init(widths, seed, purpose):
    """Saddle's uniform_fan_in draw (kernels/nn/mlp.hpp): per layer W (out x in, row-major) then b."""
    rng, i, out = CounterRng(seed, purpose), 0, []
    for fin, fout in zip(widths[:-1], widths[1:]):
        bound = 1.0 / math.sqrt(fin)
        w = bound * (2.0 * rng.uniform(np.arange(i, i + fin * fout, dtype=np.uint64), 0) - 1.0)
        i += fin * fout
        b = bound * (2.0 * rng.uniform(np.arange(i, i + fout, dtype=np.uint64), 0) - 1.0)
        i += fout
        out.append((w.reshape(fout, fin), b))
    return out


def mlp(widths, output=None, init=None):
    layers, linears = [], []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        linears.append(torch.nn.Linear(fan_in, fan_out))
        layers.append(linears[-1])
        if i + 2 < len(widths):
            layers.append(torch.nn.LeakyReLU(0.2))
    if output is not None:
        layers.append(output)
    if init is not None:
        with torch.no_grad():
            for lin, (w, b) in zip(linears, init):
                lin.weight.copy_(torch.from_numpy(w))
                lin.bias.copy_(torch.from_numpy(b))
    return torch.nn.Sequential(*layers)


class Counter:
    """Bytes handed to dist.all_reduce while `on` (patched over torch.distributed.all_reduce, which
    the DDP hooks call by attribute)."""

    def __init__(self):
        self.bytes, self.on, self.inner = 0, False, dist.all_reduce

    def __call__(self, tensor, *args, **kwargs):
        if self.on:
            self.bytes += tensor.numel() * tensor.element_size()
        return self.inner(tensor, *args, **kwargs)


def hook_of(a, module):
    from torch.distributed.algorithms.ddp_comm_hooks import default_hooks, powerSGD_hook
    if a.hook == "allreduce":
        module.register_comm_hook(None, default_hooks.allreduce_hook)
    elif a.hook == "fp16":
        module.register_comm_hook(None, default_hooks.fp16_compress_hook)
    else:
        state = powerSGD_hook.PowerSGDState(process_group=None, matrix_approximation_rank=a.powersgd_rank,
                                            start_powerSGD_iter=a.powersgd_start, random_seed=a.seed)
        module.register_comm_hook(state, powerSGD_hook.powerSGD_hook)


def worker(rank, a, port):
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ["MASTER_PORT"] = str(port)
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    torch.set_num_threads(a.threads)
    dist.init_process_group("gloo", rank=rank, world_size=a.ranks)
    counter = Counter()
    dist.all_reduce = counter
    from torch.nn.parallel import DistributedDataParallel as DDP
    train, held = digits_split(a.seed)
    train_t = torch.tensor(train, dtype=torch.float32)
    gw, dw = [a.latent, *a.widths, 64], [64, *a.widths, 1]
    gen = DDP(mlp(gw, torch.nn.Tanh(), saddle_init(gw, a.seed, "init_generator")))
    critic = DDP(mlp(dw, None, saddle_init(dw, a.seed, "init_critic")))
    for m in (gen, critic):
        hook_of(a, m)
    opt_gen = torch.optim.Adam(gen.parameters(), a.lr, betas=(0.5, 0.9))
    opt_critic = torch.optim.Adam(critic.parameters(), a.lr, betas=(0.5, 0.9))
    g = torch.Generator().manual_seed(a.seed * 1000 + rank)
    n_eval = min(a.eval_samples, len(held))
    eval_z = torch.tensor(latent_rows(a.seed, "eval_latent", n_eval, a.latent), dtype=torch.float32)
    B, last_w = a.batch, 0.0

    def critic_step():
        nonlocal last_w
        real = train_t[torch.randint(0, len(train_t), (B,), generator=g)]
        with torch.no_grad():
            fake = gen.module(torch.randn(B, a.latent, generator=g))
        eps = torch.rand(B, 1, generator=g)
        mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
        out = critic(torch.cat([fake, real, mixed]))
        d_fake, d_real, d_mixed = out[:B], out[B:2 * B], out[2 * B:]
        grad, = torch.autograd.grad(d_mixed.sum(), mixed, create_graph=True)
        penalty = ((grad.norm(dim=1) - 1) ** 2).mean()
        w = d_real.mean() - d_fake.mean()
        loss = -w + a.lam * penalty
        opt_critic.zero_grad()
        loss.backward()
        opt_critic.step()
        last_w = float(w)

    def generator_step():
        for p in critic.parameters():
            p.requires_grad_(False)
        loss = -critic.module(gen(torch.randn(B, a.latent, generator=g))).mean()
        opt_gen.zero_grad()
        loss.backward()
        opt_gen.step()
        for p in critic.parameters():
            p.requires_grad_(True)

    rows, busy = [], 0.0

    def log(step):
        t = torch.tensor([busy])
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        if rank == 0:
            with torch.no_grad():
                samples = gen.module(eval_z).double().numpy()
            rows.append(dict(step=step, time_step=float(t), swd=sliced_wasserstein(samples, held[:n_eval], a.seed),
                             bytes=counter.bytes, wasserstein=last_w))

    log(0)
    for step in range(1, a.steps + 1):
        counter.on = True
        t0 = time.perf_counter()
        for _ in range(5):
            critic_step()
        generator_step()
        busy += time.perf_counter() - t0
        counter.on = False
        if step % a.log_every == 0 or step == a.steps:
            log(step)
    if rank == 0:
        with open(a.out, "w", newline="") as f:
            w = csv.DictWriter(f, ["step", "time_step", "swd", "bytes", "wasserstein"], lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
        last = rows[-1]
        print(f"wgan_ddp torch {torch.__version__} ranks={a.ranks} hook={a.hook} steps={a.steps} "
              f"s_per_step={last['time_step'] / max(a.steps, 1):.5f} swd={last['swd']:.4f} "
              f"bytes_per_step={last['bytes'] / max(a.steps, 1):.0f}", flush=True)
    # Every rank done, then out without destroy_process_group: gloo's teardown has been seen to
    # leave one rank of four spinning after the others had exited.
    dist.barrier()
    sys.stdout.flush()
    os._exit(0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--hook", choices=("allreduce", "fp16", "powersgd"), default="allreduce")
    p.add_argument("--powersgd-rank", type=int, default=4)
    p.add_argument("--powersgd-start", type=int, default=2,
                   help="backward passes with vanilla allreduce before PowerSGD (>= 2; per network)")
    p.add_argument("--steps", type=int, default=200, help="generator iterations (each 5 critic steps + 1)")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--widths", default="256,256", help="hidden widths of both networks")
    p.add_argument("--latent", type=int, default=32)
    p.add_argument("--batch", type=int, default=32, help="rows per rank")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--lam", type=float, default=10.0)
    p.add_argument("--eval-samples", type=int, default=359)
    p.add_argument("--seed", type=int, default=1, help="Saddle's run.seed (split, init, metric streams)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")
    p.add_argument("--out", required=True, help="CSV path")
    a = p.parse_args(argv)
    a.widths = [int(w) for w in a.widths.split(",") if w]
    mp.spawn(worker, args=(a, free_port()), nprocs=a.ranks, join=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
