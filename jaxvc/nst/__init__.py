"""Spectrogram neural style transfer (see `transfer.py`)."""
