import a_module_that_does_not_exist  # noqa: F401

from plugins.api import Plugin


class Broken(Plugin):
    pass
