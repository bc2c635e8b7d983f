"""The bottom layer: tensor operations over the member axis, per-member random generators and
the forward pass' context. Everything else in netfleet may import it; it imports nothing of
netfleet but `errors`."""
