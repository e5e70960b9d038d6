"""mmengine hooks and optimizer wrappers.

:mod:`.hooks` imports ASL's two hooks (registered by ``import asl_det``); every other module here
registers on its own import, by the tools or a config's ``custom_imports`` that names it.
"""
