"""Session network plumbing: the storage rules, a local test network, and a guarded client."""
