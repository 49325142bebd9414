"""Diffusion priors behind one interface, chosen by name, and Score Distillation Sampling."""
