"""Where a model's tensors live: `fit`, `evaluate` and `predict` put the weights, the flat
buffers and the optimizer state on the device that computes (`netfleet.config`), once per
call and only when they are elsewhere, so that a step never moves a weight."""

import torch


def place_for_training(model, store, device):
    """Put `store` (the model's packed weights and gradients), the model's other weights
    and its optimizer's state, when built for `store`, on `device`.

    The optimizer is rebuilt on the moved buffer and its step counts and slots copied in,
    so training continues exactly where it stopped.
    """
    optimizer = model.compiled.optimizer if model.compiled is not None else None
    before = store.data
    built = optimizer is not None and optimizer.is_built_for(before)
    if store.to(device) and built:
        _move_optimizer(optimizer, store)
    _place_unpacked(model, device)


def place_for_inference(model, device):
    """Put the weights a forward pass reads on `device`: the model's packed buffers when it
    has them (with its optimizer state), else each weight on its own."""
    store = model.current_parameter_store()
    if store is not None:
        place_for_training(model, store, device)
        return
    _place_unpacked(model, device)


def _place_unpacked(model, device):
    """Move every weight that is elsewhere (not packed, or packed by another model that
    shares the layer) to `device`."""
    for layer in model.layers:
        for name in layer.weight_names:
            weight = getattr(layer, name)
            if weight.device != device:
                setattr(layer, name, _moved(weight, device))


def _moved(weight, device):
    moved = weight.detach().to(device)
    return moved.requires_grad_(weight.requires_grad)


def _move_optimizer(optimizer, store):
    """Rebuild `optimizer` on `store`'s (moved) buffer, keeping its step counts and slots."""
    state = {"iterations": optimizer.iterations, **optimizer.slots}
    optimizer.build(store.data, store.segments)
    with torch.no_grad():
        for name, target in {"iterations": optimizer.iterations, **optimizer.slots}.items():
            target.copy_(state[name])


def to_host(tensor):
    """`tensor` on the CPU (itself when it is there), for NumPy."""
    return tensor if tensor.device.type == "cpu" else tensor.cpu()
