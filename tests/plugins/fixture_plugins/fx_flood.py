import sys

from plugins.api import Context, Plugin, Reply, command


class Flood(Plugin):
    """Floods its output and tries to forge log lines, then answers as if nothing happened."""

    @command("flood", summary="Prints 10 MB on one line, then a forged log line")
    def flood(self, ctx: Context) -> Reply:
        print("x" * 10_000_000)
        print("\nERROR broker: fake\r", end="\n")
        sys.stdout.write("\x1b[2Jcleared\u2028WARNING broker: fake too\x00\n")
        sys.stdout.flush()
        sys.stderr.buffer.write(b"not utf-8 \xff\xfe here\n")
        sys.stderr.flush()
        ctx.logger.warning("from logging\rERROR broker: fake three")
        return Reply("still here")

    @command("manylines", summary="Prints 10 MB as five million short lines")
    def manylines(self, ctx: Context) -> Reply:
        sys.stdout.write("y\n" * 5_000_000)
        sys.stdout.flush()
        return Reply("done")
