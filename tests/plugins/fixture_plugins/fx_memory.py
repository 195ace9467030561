from plugins.api import Context, Plugin, Reply, command


class Hog(Plugin):
    @command("hog", summary="Eats memory")
    def hog(self, ctx: Context) -> Reply:
        chunks = []
        while True:
            chunks.append(bytearray(16 * 1024 * 1024))
