"""Tool-side helpers (config swap, config checks, runtime, benchmark timing, tables); import the
modules directly. Checkpoint loading, atomic writes and resume live in :mod:`asl_det.checkpoint`."""
