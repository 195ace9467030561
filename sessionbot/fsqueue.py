"""kombu's filesystem transport with atomic writes, for the embedded Celery queue.

kombu writes a message file in place; a worker polling the folder can move and read it
before the bytes are written, read an empty file and stop with "Unrecoverable error:
JSONDecodeError" (seen under load). Here a message is written under a hidden name the
reader ignores and renamed into place, which is atomic on one filesystem.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.transport import filesystem
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        # The reader matches "<stamp>.<queue>.msg"; a leading dot and a suffix hide the draft.
        draft = os.path.join(self.data_folder_out, f".{name}.draft")
        with open(draft, "wb") as f:
            f.write(dumps(payload).encode("utf-8"))
        os.replace(draft, os.path.join(self.data_folder_out, name))


class Transport(filesystem.Transport):
    Channel = Channel
