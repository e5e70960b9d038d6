"""Config-level tools: which mmdet detector configs take the ``--asl`` swap (coverage)."""
