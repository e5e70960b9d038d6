"""mmengine hooks and optimizer wrappers, and the reader of the scalar logs they write.

:mod:`.hooks` imports ASL's two hooks (registered by ``import asl_det``); every other hook and
wrapper here registers on its own import, by the tools or a config's ``custom_imports`` that
names it. :mod:`.logged_scalars` reads a work dir's ``scalars.json``;
:mod:`.validation_schedule` says where the train loops validate.
"""
