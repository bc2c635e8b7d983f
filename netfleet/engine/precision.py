"""Mixed precision: with `netfleet.config.set_precision("bf16")`, forward passes run under
`torch.autocast` in bfloat16 (matrix products and what autocast lowers with them), and their
outputs come back as float32, so losses, metrics and predictions are computed in float32;
weights, gradients and optimizer state stay float32 throughout. The fused step writes float32
gradients by hand, so bf16 training takes the autograd path."""

import torch

from netfleet import config


def enabled():
    """Whether forward passes run in bfloat16."""
    return config.get_precision() == "bf16"


def forward(model, inputs, training=False, logits=False):
    """`model.forward(inputs, training, logits)` in the configured precision, its outputs
    (a tensor, or a list for several outputs) in float32."""
    if not enabled():
        return model.forward(inputs, training=training, logits=logits)
    with torch.autocast(inputs[0].device.type, dtype=torch.bfloat16):
        outputs = model.forward(inputs, training=training, logits=logits)
    if isinstance(outputs, list):
        return [output.float() for output in outputs]
    return outputs.float()
