"""The bridge protocol's frames: the one contract shared by the broker and the bridge process."""
