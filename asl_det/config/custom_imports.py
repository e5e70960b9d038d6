"""Name a module in a config's ``custom_imports``, so that the config, dumped into a work dir,
builds wherever mmdet runs (mmdet's own tools, ``init_detector``) with the types asl_det wrote
into it."""


def add_custom_import(cfg, module: str) -> None:
    """Append ``module`` to ``cfg.custom_imports.imports`` unless it is there (a new
    ``custom_imports`` has ``allow_failed_imports=False``). ``cfg``: an mmengine ``Config`` or a
    dict."""
    imports = cfg.get('custom_imports') or dict(imports=[], allow_failed_imports=False)
    names = imports.get('imports', [])
    names = [names] if isinstance(names, str) else list(names)  # mmengine takes one name too
    if module not in names:
        names.append(module)
    imports['imports'] = names
    cfg['custom_imports'] = imports
