#!/usr/bin/python3
"""PyTorch peer of the wgan benchmark (bench/wgan_vs_torch.sh), on the CPU.

WGAN-GP on the digits set with the flagship deck's networks (inputs/wgan_digits.toml):
G 32-256-256-64 with a tanh output, D 64-256-256-1, LeakyReLU(0.2) hidden layers, minibatch 64,
Adam(1e-4, betas 0.5, 0.9) for both players, 5 critic steps per generator step, penalty weight 10.
Pixels are read from Debian's python3-sklearn copy of digits.csv.gz and scaled to x / 8 - 1.
After 10 warm-up iterations it times `iterations` generator iterations and prints one line

  torch VERSION threads=N dtype=torch.float32 gen_iters_per_s=R

  /usr/bin/python3 bench/peers/wgan_torch.py [threads = 1] [iterations = 200] [f64]
"""
import gzip
import os
import sys
import time

import numpy as np
import sklearn
import torch

LATENT, BATCH, N_CRITIC, LAMBDA = 32, 64, 5, 10.0


def digits(dtype):
    path = os.path.join(os.path.dirname(sklearn.__file__), "datasets", "data", "digits.csv.gz")
    with gzip.open(path) as f:
        pixels = np.loadtxt(f, delimiter=",")[:, :64]
    return torch.tensor(pixels / 8.0 - 1.0, dtype=dtype)


def mlp(widths, dtype, output=None):
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(torch.nn.Linear(fan_in, fan_out))
        if i + 2 < len(widths):
            layers.append(torch.nn.LeakyReLU(0.2))
    if output is not None:
        layers.append(output)
    return torch.nn.Sequential(*layers).to(dtype)


class WganGp:
    def __init__(self, data, dtype):
        self.data, self.dtype = data, dtype
        self.gen = mlp([LATENT, 256, 256, 64], dtype, torch.nn.Tanh())
        self.critic = mlp([64, 256, 256, 1], dtype)
        self.opt_gen = torch.optim.Adam(self.gen.parameters(), 1e-4, betas=(0.5, 0.9))
        self.opt_critic = torch.optim.Adam(self.critic.parameters(), 1e-4, betas=(0.5, 0.9))

    def noise(self):
        return torch.randn(BATCH, LATENT, dtype=self.dtype)

    def critic_step(self):
        real = self.data[torch.randint(0, len(self.data), (BATCH,))]
        fake = self.gen(self.noise()).detach()
        eps = torch.rand(BATCH, 1, dtype=self.dtype)
        mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(self.critic(mixed).sum(), mixed, create_graph=True)
        penalty = ((grad.norm(dim=1) - 1) ** 2).mean()
        loss = self.critic(fake).mean() - self.critic(real).mean() + LAMBDA * penalty
        self.opt_critic.zero_grad()
        loss.backward()
        self.opt_critic.step()

    def generator_step(self):
        loss = -self.critic(self.gen(self.noise())).mean()
        self.opt_gen.zero_grad()
        loss.backward()
        self.opt_gen.step()

    def iteration(self):
        for _ in range(N_CRITIC):
            self.critic_step()
        self.generator_step()


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    iterations = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    dtype = torch.float64 if len(sys.argv) > 3 and sys.argv[3] == "f64" else torch.float32
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = WganGp(digits(dtype), dtype)
    for _ in range(10):
        model.iteration()
    start = time.perf_counter()
    for _ in range(iterations):
        model.iteration()
    rate = iterations / (time.perf_counter() - start)
    print(f"torch {torch.__version__} threads={threads} dtype={dtype} gen_iters_per_s={rate:.1f}")


if __name__ == "__main__":
    main()
