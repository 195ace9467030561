"""Bot users, groups, plugins, their versions and commands, grants and invocations."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from plugins import adminlabels
from plugins.constraints import VersionError, constraint_parse, requirement_parse, version_equal, version_parse
from sessionbot.validators import validate_session_id


def validate_version(value: str) -> None:
    """Accept PEP 440 versions in their normal form only (``1.2.0``, ``2.0rc1``; not ``v1``)."""
    try:
        version_parse(value)
    except VersionError as exc:
        if exc.normal:
            message = _("%(value)s is not written as PEP 440 normalizes it: write %(normal)s.")
            raise ValidationError(message % {"value": value, "normal": exc.normal}, code="invalid_version") from None
        message = _("%(value)s is not a PEP 440 version, such as 1.0.0.")
        raise ValidationError(message % {"value": value}, code="invalid_version") from None


validate_language = RegexValidator(
    regex=r"^[a-z]{2,3}(-[a-z0-9]{2,8})*\Z",
    message=_("A language code is lowercase, such as en, es or zh-hans."),
    code="invalid_language",
)

validate_command_name = RegexValidator(
    regex=r"^[a-z0-9][a-z0-9_-]{0,63}\Z",
    message=_("A command name is lowercase letters, digits, - and _, such as weather."),
    code="invalid_command_name",
)


def validate_dependencies(value: object) -> None:
    """Accept a mapping of plugin name to a PEP 440 version constraint (``>=1.0,<2``)."""
    if not isinstance(value, dict):
        raise ValidationError(_("Dependencies are a mapping of plugin name to version constraint."))
    for name, constraint in value.items():
        try:
            constraint_parse(str(constraint))
        except VersionError:
            message = _("%(name)s: %(constraint)s is not a version constraint such as >=1.0,<2.")
            raise ValidationError(
                message % {"name": name, "constraint": constraint}, code="invalid_constraint"
            ) from None


def validate_requirements(value: object) -> None:
    """Accept a list of PEP 508 requirement strings (``requests>=2.31``)."""
    if not isinstance(value, list):
        raise ValidationError(_("Requirements are a list of PEP 508 strings."))
    for line in value:
        try:
            requirement_parse(str(line))
        except VersionError:
            message = _("%(line)s is not a PEP 508 requirement such as requests>=2.31.")
            raise ValidationError(message % {"line": line}, code="invalid_requirement") from None


class Policy(models.TextChoices):
    EVERYONE = "everyone", _("everyone")
    LISTED = "listed", _("listed users and groups only")
    ADMINS = "admins", _("admins only")


class BotUser(models.Model):
    """A person as one bot knows them: the same Session ID talking to two bots is two users."""

    bot = models.ForeignKey("bots.Bot", verbose_name=_("bot"), on_delete=models.CASCADE, related_name="users")
    session_id = models.CharField(_("Session ID"), max_length=66, validators=[validate_session_id])
    display_name = models.CharField(verbose_name=_("display name"), max_length=100, blank=True)
    language = models.CharField(
        verbose_name=_("language"),
        max_length=16,
        blank=True,
        validators=[validate_language],
        help_text=_("Empty means the bot's default language."),
    )
    blocked = models.BooleanField(verbose_name=_("blocked"), default=False)
    is_admin = models.BooleanField(_("admin"), default=False)
    first_seen = models.DateTimeField(verbose_name=_("first seen"), default=timezone.now)
    last_seen = models.DateTimeField(verbose_name=_("last seen"), default=timezone.now)

    class Meta:
        verbose_name = _("bot user")
        verbose_name_plural = _("bot users")
        ordering = ["-last_seen"]
        constraints = [models.UniqueConstraint(fields=["bot", "session_id"], name="unique_user_per_bot")]

    def __str__(self) -> str:
        short = f"{self.session_id[:8]}…{self.session_id[-4:]}"
        return f"{self.display_name} ({short})" if self.display_name else short


class BotGroup(models.Model):
    name = models.CharField(verbose_name=_("name"), max_length=100, unique=True)
    description = models.TextField(verbose_name=_("description"), blank=True)
    members = models.ManyToManyField(BotUser, verbose_name=_("members"), related_name="bot_groups", blank=True)

    class Meta:
        # "Groups" is the admin's name for Django's own groups of staff accounts.
        verbose_name = _("bot user group")
        verbose_name_plural = _("bot user groups")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Plugin(models.Model):
    name = models.SlugField(verbose_name=_("name"), max_length=64, unique=True)
    enabled = models.BooleanField(verbose_name=_("enabled"), default=True)
    active_version = models.ForeignKey(
        "PluginVersion",
        verbose_name=_("active version"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    default_policy = models.CharField(
        verbose_name=_("default policy"), max_length=16, choices=Policy.choices, default=Policy.EVERYONE
    )
    default_handler = models.BooleanField(
        verbose_name=_("default handler"),
        default=False,
        help_text=_("Receives plain text that is not a command (one plugin at most)."),
    )
    config = models.JSONField(verbose_name=_("config"), default=dict, blank=True)
    # Health, kept by the runtime.
    load_state = models.CharField(
        verbose_name=_("load state"), max_length=16, choices=adminlabels.LOAD_STATES, default="unknown"
    )
    last_error = models.TextField(verbose_name=_("last error"), blank=True)
    last_error_at = models.DateTimeField(verbose_name=_("last error at"), null=True, blank=True)
    last_success_at = models.DateTimeField(verbose_name=_("last success at"), null=True, blank=True)
    health_status = models.CharField(
        verbose_name=_("health status"), max_length=16, choices=adminlabels.HEALTH_STATUSES, blank=True
    )
    health_detail = models.TextField(verbose_name=_("health detail"), blank=True)
    health_checked_at = models.DateTimeField(verbose_name=_("health checked at"), null=True, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("plugin")
        verbose_name_plural = _("plugins")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["default_handler"],
                condition=Q(default_handler=True),
                name="one_default_handler",
                violation_error_message=_("Another plugin is already the default handler; only one may be."),
            )
        ]

    def __str__(self) -> str:
        return self.name


class SourceKind(models.TextChoices):
    FOLDER = "folder", _("folder in a plugin root")
    GIT = "git", _("git repository")
    INDEX = "index", _("package index")
    ARCHIVE = "archive", _("archive")


class PluginApi(models.TextChoices):
    SESSIONBOT = "sessionbot", _("sessionbot plugin")
    LEGACY = "legacy", _("older bot's plugin")


class BuildState(models.TextChoices):
    BUILDING = "building", _("building")
    READY = "ready", _("ready")
    FAILED = "failed", _("failed")


class PluginVersion(models.Model):
    class Isolation(models.TextChoices):
        HOST = "host", _("own process (isolated)")
        INLINE = "inline", _("inline in the worker (trusted)")

    plugin = models.ForeignKey(Plugin, verbose_name=_("plugin"), on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(verbose_name=_("version"), max_length=64, validators=[validate_version])
    entrypoint = models.CharField(
        verbose_name=_("entrypoint"), max_length=200, help_text=_("module:attr inside a plugin root")
    )
    manifest = models.JSONField(verbose_name=_("manifest"), default=dict, blank=True)
    dependencies = models.JSONField(
        verbose_name=_("dependencies"),
        default=dict,
        blank=True,
        validators=[validate_dependencies],
        help_text=_("plugin name → version constraint"),
    )
    requirements = models.JSONField(
        verbose_name=_("requirements"),
        default=list,
        blank=True,
        validators=[validate_requirements],
        help_text=_("Python requirements (PEP 508)"),
    )
    isolation = models.CharField(
        verbose_name=_("isolation"), max_length=8, choices=Isolation.choices, default=Isolation.HOST
    )
    network = models.BooleanField(
        verbose_name=_("network"),
        default=False,
        help_text=_(
            "May reach the internet from its host; never this machine's own services. "
            "Off: its host has no network at all."
        ),
    )
    timeout_seconds = models.FloatField(verbose_name=_("timeout (seconds)"), null=True, blank=True)
    memory_mb = models.PositiveIntegerField(verbose_name=_("memory (MB)"), null=True, blank=True)
    cpu_seconds = models.FloatField(verbose_name=_("CPU seconds"), null=True, blank=True)
    checksum = models.CharField(verbose_name=_("checksum"), max_length=64, blank=True)
    # Where the code comes from (see plugins.sources): a folder in a plugin root (the
    # default), a git repository, a package index requirement or an archive.
    source_kind = models.CharField(
        verbose_name=_("source kind"), max_length=8, choices=SourceKind.choices, default=SourceKind.FOLDER
    )
    source = models.CharField(
        verbose_name=_("source"), max_length=1000, blank=True, help_text=_("URL, requirement or archive, as given")
    )
    ref = models.CharField(
        verbose_name=_("reference"), max_length=200, blank=True, help_text=_("git tag, branch or commit asked for")
    )
    resolved = models.CharField(
        verbose_name=_("resolved"),
        max_length=200,
        blank=True,
        help_text=_("what the source resolved to: a commit, or an archive's SHA-256"),
    )
    api = models.CharField(
        verbose_name=_("plugin API"), max_length=10, choices=PluginApi.choices, default=PluginApi.SESSIONBOT
    )
    # The environment the version runs in: its pinned requirements (with hashes) and the
    # digest naming the environment built from them; empty: the bot's own interpreter.
    pins = models.TextField(
        verbose_name=_("pinned requirements"), blank=True, help_text=_("pinned requirements with hashes")
    )
    environment = models.CharField(verbose_name=_("environment"), max_length=64, blank=True)
    build_state = models.CharField(
        verbose_name=_("build state"), max_length=8, choices=BuildState.choices, default=BuildState.READY
    )
    build_error = models.TextField(verbose_name=_("build error"), blank=True)
    queue = models.CharField(
        verbose_name=_("queue"),
        max_length=64,
        blank=True,
        help_text=_("Celery queue its commands run on; empty: the default queue"),
    )
    imported_at = models.DateTimeField(verbose_name=_("imported at"), default=timezone.now)
    # The latest activation: rollback returns to the version activated before the current one.
    activated_at = models.DateTimeField(verbose_name=_("activated at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("plugin version")
        verbose_name_plural = _("plugin versions")
        ordering = ["plugin__name", "-imported_at"]
        constraints = [models.UniqueConstraint(fields=["plugin", "version"], name="unique_plugin_version")]

    def __str__(self) -> str:
        return f"{self.plugin.name} {self.version}"

    def clean(self) -> None:
        """Refuse a second version of the plugin equal to this one by PEP 440 (``1`` is ``1.0.0``)."""
        super().clean()
        if not self.plugin_id:
            return
        others = PluginVersion.objects.filter(plugin_id=self.plugin_id).exclude(pk=self.pk)
        same = next((v for v in others.values_list("version", flat=True) if version_equal(v, self.version)), None)
        if same is not None:
            message = _("%(version)s is the installed version %(same)s.") % {"version": self.version, "same": same}
            raise ValidationError({"version": message})


class PluginCommand(models.Model):
    """A command of a plugin version, derived from its code at import and at reload.

    Name, summary, help, arguments and translations are what the code declares (see
    ``plugins.commands``); only ``filters`` and ``policy`` come from the operator's
    plugins.yaml entry. Nobody edits these rows by hand: the next reload would undo it.
    """

    version = models.ForeignKey(
        PluginVersion, verbose_name=_("version"), on_delete=models.CASCADE, related_name="commands"
    )
    name = models.CharField(verbose_name=_("name"), max_length=64, validators=[validate_command_name])
    summary = models.CharField(
        verbose_name=_("summary"), max_length=200, blank=True, help_text=_("English, from the code's @command.")
    )
    help = models.TextField(verbose_name=_("help"), blank=True, help_text=_("English, from the handler's docstring."))
    args = models.JSONField(
        verbose_name=_("arguments"), default=list, blank=True, help_text=_("from the handler's signature")
    )
    docs = models.JSONField(
        verbose_name=_("translations"),
        default=dict,
        blank=True,
        help_text=_("translations from the plugin's catalog: language → summary, help"),
    )
    prefix = models.CharField(
        verbose_name=_("prefix"),
        max_length=4,
        blank=True,
        help_text=_("the command's own prefix (an older bot's plugin: !); empty: the bot's prefix"),
    )
    filters = models.JSONField(
        verbose_name=_("filters"), default=dict, blank=True, help_text=_("metadata filters for routing")
    )
    policy = models.CharField(
        verbose_name=_("policy"),
        max_length=16,
        choices=Policy.choices,
        blank=True,
        help_text=_("Empty means the plugin's policy."),
    )

    class Meta:
        verbose_name = _("plugin command")
        verbose_name_plural = _("plugin commands")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["version", "name"], name="unique_command_per_version")]

    def __str__(self) -> str:
        return self.name

    def localized(self, *languages: str) -> tuple[str, str]:
        """Summary and help in the first of ``languages`` that has them, else English."""
        docs = self.docs if isinstance(self.docs, dict) else {}
        found = [docs[lang] for lang in languages if isinstance(docs.get(lang), dict)]
        summary = next((d["summary"] for d in found if d.get("summary")), self.summary)
        help_text = next((d["help"] for d in found if d.get("help")), self.help)
        return summary, help_text


class PermissionGrant(models.Model):
    class Effect(models.TextChoices):
        ALLOW = "allow", _("allow")
        DENY = "deny", _("deny")

    effect = models.CharField(verbose_name=_("effect"), max_length=5, choices=Effect.choices, default=Effect.ALLOW)
    plugin = models.ForeignKey(Plugin, verbose_name=_("plugin"), on_delete=models.CASCADE, related_name="grants")
    command = models.CharField(
        verbose_name=_("command"), max_length=64, blank=True, help_text=_("Empty: every command of the plugin.")
    )
    user = models.ForeignKey(
        BotUser, verbose_name=_("user"), null=True, blank=True, on_delete=models.CASCADE, related_name="grants"
    )
    group = models.ForeignKey(
        BotGroup, verbose_name=_("group"), null=True, blank=True, on_delete=models.CASCADE, related_name="grants"
    )
    bot = models.ForeignKey(
        "bots.Bot",
        verbose_name=_("bot"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="grants",
        help_text=_("Empty: with every bot."),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("permission grant")
        verbose_name_plural = _("permission grants")
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(group__isnull=True))
                | (Q(user__isnull=True) & Q(group__isnull=False)),
                name="grant_to_user_xor_group",
                violation_error_message=_("A grant names either a user or a group."),
            )
        ]

    def __str__(self) -> str:
        what = f"{self.plugin.name}{'/' + self.command if self.command else ''}"
        values = {"what": what, "who": self.user or self.group}
        if self.effect == self.Effect.DENY:
            return _("deny %(what)s to %(who)s") % values
        return _("allow %(what)s to %(who)s") % values


class BotPlugin(models.Model):
    """A plugin that a bot offers. A bot that names none offers every enabled plugin; one
    that names some offers those only. ``policy`` replaces the plugin's default policy
    with this bot."""

    bot = models.ForeignKey("bots.Bot", verbose_name=_("bot"), on_delete=models.CASCADE, related_name="offers")
    plugin = models.ForeignKey(Plugin, verbose_name=_("plugin"), on_delete=models.CASCADE, related_name="offers")
    policy = models.CharField(
        verbose_name=_("policy"),
        max_length=16,
        choices=Policy.choices,
        blank=True,
        help_text=_("Empty: the plugin's default policy."),
    )

    class Meta:
        verbose_name = _("plugin offered by a bot")
        verbose_name_plural = _("plugins offered by bots")
        ordering = ["bot", "plugin"]
        constraints = [models.UniqueConstraint(fields=["bot", "plugin"], name="unique_plugin_per_bot")]

    def __str__(self) -> str:
        return f"{self.plugin} @ {self.bot}"


class Invocation(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        OK = "ok", _("ok")
        ERROR = "error", _("error")
        FAILED = "failed", _("failed")
        TIMEOUT = "timeout", _("timeout")
        CRASHED = "crashed", _("crashed")

    FINISHED = (Status.OK, Status.ERROR, Status.FAILED, Status.TIMEOUT, Status.CRASHED)

    key = models.CharField(
        verbose_name=_("key"), max_length=100, unique=True, help_text=_("idempotency key, e.g. the message hash")
    )
    bot = models.ForeignKey("bots.Bot", verbose_name=_("bot"), on_delete=models.CASCADE, related_name="invocations")
    user = models.ForeignKey(
        BotUser, verbose_name=_("user"), null=True, on_delete=models.SET_NULL, related_name="invocations"
    )
    plugin_version = models.ForeignKey(
        PluginVersion,
        verbose_name=_("plugin version"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="invocations",
    )
    command = models.CharField(verbose_name=_("command"), max_length=64, blank=True)
    arguments = models.TextField(verbose_name=_("arguments"), blank=True)
    conversation = models.CharField(verbose_name=_("conversation"), max_length=80)
    conversation_type = models.CharField(
        verbose_name=_("conversation type"), max_length=8, choices=adminlabels.CONVERSATION_TYPES, default="private"
    )
    language = models.CharField(verbose_name=_("language"), max_length=16, blank=True)
    reply_to = models.JSONField(verbose_name=_("reply to"), null=True, blank=True)
    attachments = models.JSONField(verbose_name=_("attachments"), default=list, blank=True)
    status = models.CharField(
        verbose_name=_("status"), max_length=8, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    queued_at = models.DateTimeField(verbose_name=_("queued at"), default=timezone.now)
    started_at = models.DateTimeField(verbose_name=_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(verbose_name=_("finished at"), null=True, blank=True)
    duration_ms = models.FloatField(verbose_name=_("duration (ms)"), null=True, blank=True)
    attempts = models.PositiveIntegerField(verbose_name=_("attempts"), default=0)
    error = models.TextField(verbose_name=_("error"), blank=True)

    class Meta:
        verbose_name = _("invocation")
        verbose_name_plural = _("invocations")
        ordering = ["-queued_at"]
        indexes = [models.Index(fields=["status", "queued_at"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.command} [{self.get_status_display()}]"


class PluginSecret(models.Model):
    """A secret of one plugin (an API key), given to that plugin's hosts only.

    ``ciphertext`` is the value encrypted (see ``plugins.secrets``): neither the admin nor
    the logs show it after entry, and exports leave it out unless asked.
    """

    plugin = models.ForeignKey(Plugin, verbose_name=_("plugin"), on_delete=models.CASCADE, related_name="secrets")
    key = models.CharField(verbose_name=_("key"), max_length=128)
    ciphertext = models.TextField(verbose_name=_("ciphertext"))
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("plugin secret")
        verbose_name_plural = _("plugin secrets")
        ordering = ["plugin__name", "key"]
        constraints = [models.UniqueConstraint(fields=["plugin", "key"], name="unique_secret_per_plugin")]

    def __str__(self) -> str:
        return f"{self.plugin.name}: {self.key}"


class InstallJob(models.Model):
    """One install or upgrade of a plugin from a source, run in the background."""

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    source = models.CharField(verbose_name=_("source"), max_length=1000, blank=True)
    ref = models.CharField(verbose_name=_("reference"), max_length=200, blank=True)
    name = models.CharField(verbose_name=_("name"), max_length=64, blank=True, help_text=_("the plugin, once known"))
    upload = models.CharField(
        verbose_name=_("upload"), max_length=500, blank=True, help_text=_("path of an uploaded archive")
    )
    activate = models.BooleanField(verbose_name=_("activate"), default=True)
    state = models.CharField(
        verbose_name=_("state"), max_length=9, choices=State.choices, default=State.QUEUED, db_index=True
    )
    step = models.CharField(
        verbose_name=_("step"), max_length=32, blank=True, help_text=_("clone, resolve, download, build, check")
    )
    log = models.TextField(verbose_name=_("log"), blank=True)
    error = models.TextField(verbose_name=_("error"), blank=True)
    version = models.ForeignKey(
        PluginVersion, verbose_name=_("version"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    # Written while a worker runs the job (plugins.installjobs): a running job whose worker
    # stopped writing it is failed, not left "running" for ever.
    alive_at = models.DateTimeField(verbose_name=_("alive at"), null=True, blank=True)
    finished_at = models.DateTimeField(verbose_name=_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("plugin install")
        verbose_name_plural = _("plugin installs")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name or self.source or self.upload} [{self.get_state_display()}]"


class QueueWorker(models.Model):
    """A Celery worker serving a queue, as last seen: a plugin on a queue nobody serves is unavailable."""

    queue = models.CharField(verbose_name=_("queue"), max_length=64)
    worker = models.CharField(verbose_name=_("worker"), max_length=200)
    seen_at = models.DateTimeField(verbose_name=_("seen at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("queue worker")
        verbose_name_plural = _("queue workers")
        constraints = [models.UniqueConstraint(fields=["queue", "worker"], name="unique_queue_worker")]

    def __str__(self) -> str:
        return _("%(worker)s on %(queue)s") % {"worker": self.worker, "queue": self.queue}


class PluginArchive(models.Model):
    """The bytes of an archive a plugin was installed from that no other machine can fetch
    again (uploaded, or a file of the installing machine), so that every worker can set
    the version up (``plugins.provision``). Kept while a version refers to it."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    name = models.CharField(max_length=255, help_text=_("file name, as installed: a wheel's says what it is"))
    size = models.PositiveBigIntegerField()
    data = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("plugin archive")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:12]})"
