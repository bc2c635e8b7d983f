"""The training machinery over M members: parameters, batching, fit / evaluate / predict."""
