"""The older bot's plugins, run unchanged in a plugin host: its plugin contract and its commands.

Only the standard library and the host's own modules here (a plugin host imports this
package): ``adapter`` loads and runs a plugin, ``words`` is the pure rule of its command
words. The worker's side (the older plugins.yaml, pinning a tree) is ``plugins.legacyinstall``.
"""
