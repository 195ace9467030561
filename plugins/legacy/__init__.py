"""The older bot's plugins, run unchanged: its plugin file, its plugin contract, its commands.

``adapter`` runs inside the plugin host (no Django); ``words``, ``oldformat`` and
``setupinfo`` are pure rules with table tests; ``tree`` pins a plugin's tree.
"""
