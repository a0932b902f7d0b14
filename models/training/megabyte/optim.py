"""Muon: momentum orthogonalised by a Newton-Schulz iteration, for the 2-D hidden matrices
(Keller Jordan 2024, as used in the nanoGPT speedrun). Embeddings, the symbol head, biases and
norm gains stay with AdamW (train.py splits the parameters: `muon_params`).

For a weight W (out, in) with gradient G, the momentum M <- mu M + (1 - mu) G (Nesterov: the
update reads G + mu (M - G)) is replaced by the nearest semi-orthogonal matrix, approximately
U V^T of its SVD, from 5 steps of a quintic iteration that pushes every singular value towards
1 (coefficients 3.4445, -4.7750, 2.0315: fast, not exact, singular values end in ~[0.7, 1.2]).
The step is lr * sqrt(max(1, out/in)) times that.
"""
from __future__ import annotations

import torch

NS_COEFFS = (3.4445, -4.7750, 2.0315)


def orthogonalise(g: torch.Tensor, steps: int = 5) -> torch.Tensor:
    """Approximately U V^T for g = U S V^T (2-D), in fp32."""
    a, b, c = NS_COEFFS
    x = g.float()
    x = x / (x.norm() + 1e-7)
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    for _ in range(steps):
        s = x @ x.T
        x = a * x + (b * s + c * (s @ s)) @ x
    return x.T if tall else x


def muon_params(model: torch.nn.Module) -> tuple[list, list]:
    """(Muon's parameters, the rest): the 2-D weights of the linear layers inside the levels
    (attention, MLP, the input and child projections), not the embeddings nor the symbol head."""
    muon, rest = [], []
    for n, p in model.named_parameters():
        (muon if p.dim() == 2 and "embed" not in n and "ngram" not in n and ".head." not in n else rest).append(p)
    return muon, rest


class Muon(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 0.02, momentum: float = 0.95, nesterov: bool = True,
                 ns_steps: int = 5, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov, ns_steps=ns_steps,
                                      weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            mu = group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                assert p.dim() == 2, "Muon is for 2-D weights"
                st = self.state[p]
                if "momentum_buffer" not in st:
                    st["momentum_buffer"] = torch.zeros_like(p.grad)
                buf = st["momentum_buffer"]
                buf.lerp_(p.grad, 1 - mu)
                g = p.grad.lerp(buf, mu) if group["nesterov"] else buf
                u = orthogonalise(g, group["ns_steps"])
                if group["weight_decay"]:
                    p.mul_(1 - group["lr"] * group["weight_decay"])
                p.add_(u.to(p.dtype), alpha=-group["lr"] * max(1.0, p.shape[0] / p.shape[1]) ** 0.5)
