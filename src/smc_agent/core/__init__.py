"""Kernel-level building blocks shared by every layer: errors and (later) clock, events and bus."""
