"""Tensor operations over the member axis shared by several layers."""

import torch


def member_linear(x, kernel, bias=None):
    """`x @ kernel + bias` for each member.

    Shape:
        x: `(M, batch, ..., in)`, or `(1, batch, ..., in)` when every member sees the same
        batch; kernel: `(M, in, out)`; bias: `(M, out)` → `(M, batch, ..., out)`.

    Members that share their input run as one wide matrix product (one GEMM for all M, and
    exactly `addmm` at M = 1); members with their own input run as one `baddbmm`.
    """
    members, n_in, n_out = kernel.shape
    lead = x.shape[1:-1]
    if x.shape[0] == 1:
        flat = x.reshape(-1, n_in)
        if members == 1:
            out = flat @ kernel[0] if bias is None else torch.addmm(bias[0], flat, kernel[0])
            return out.view(1, *lead, n_out)
        wide = kernel.permute(1, 0, 2).reshape(n_in, members * n_out)
        out = flat @ wide if bias is None else torch.addmm(bias.reshape(-1), flat, wide)
        return out.view(-1, members, n_out).transpose(0, 1).reshape(members, *lead, n_out)
    flat = x.reshape(x.shape[0], -1, n_in)
    if bias is None:
        out = torch.bmm(flat, kernel)
    else:
        out = torch.baddbmm(bias.unsqueeze(1), flat, kernel)
    return out.view(members, *lead, n_out)
