"""The worker's side of the older bot's plugins: its plugins.yaml, its trees, their versions.

``oldformat`` and ``setupinfo`` are pure rules with table tests; ``tree`` pins a plugin's
tree; ``entries`` fetches and pins each entry of the older file for ``importplugins``.
The host's side, which runs the plugins, is ``plugins.legacy``.
"""
