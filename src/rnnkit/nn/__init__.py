"""Recurrent cores: scratch cells, multi-layer stacks and `build_rnn`."""
