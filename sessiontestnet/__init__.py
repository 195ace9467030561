"""The local Session test network: storage nodes in memory or over HTTPS, for tests and `manage.py sessiontestnet`."""
