# ruff: noqa: RUF001 - full-width punctuation is correct in Chinese text
"""The built-in plugins' sentences in the bot's languages.

Plugins run without Django, so they carry their own translations: a table per language,
falling back to English. Third-party plugins may copy this pattern.
"""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "privacy.private": "Your data is yours alone: send {prefix}{command} in a private chat with the bot.",
        "kept.days": "Their content is kept for {days} days at most.",
        "kept.forever": "Their content is kept until you erase it.",
        "pong": "pong",
        "help.title": "Commands you can use:",
        "help.more": "Send {prefix}help COMMAND for details.",
        "help.unknown": "There is no command {name} that you may use.",
        "help.usage": "Usage: {usage}",
        "whoami": "Session ID: {user}\nLanguage: {language}\nRole: {role}\nGroups: {groups}",
        "role.admin": "admin",
        "role.user": "user (not an admin)",
        "none": "none",
        "lang.current": "Your language: {language}. Available: {choices}.",
        "lang.set": "Your language is now English.",
        "plugins.title": "Plugins:",
        "plugins.enabled": "enabled",
        "plugins.disabled": "disabled",
        "plugins.line": "{name} {version} ({enabled}, {state}) health: {health}; errors in the last hour: {rate}",
        "plugins.usage": "Usage: /plugins [reload|enable|disable|rollback NAME | activate NAME VERSION]",
        "mydata": (
            "What this bot keeps about you. Messages: {messages}, commands: {invocations}, replies: {replies}, "
            "files: {files}, language: {language}, grants: {grants}, groups: {groups}. {kept} "
            "The attached file holds all of it; {prefix}forgetme erases it."
        ),
        "mydata.big": "Your data is too large to attach here; the bot's operator can export it for you.",
        "forgetme.ask": (
            "This erases your messages, commands, replies, files, language, grants and groups with this bot. "
            "To confirm, send {prefix}forgetme {code} within {minutes} minutes."
        ),
        "forgetme.wrong": "That code is wrong or has expired. Send {prefix}forgetme to get a new one.",
        "forgetme.done": (
            "Done. Erased messages: {messages}, commands: {invocations}, replies: {replies}, files: {files}. "
            "This command and its answer are erased with the next purge."
        ),
    },
    "es": {
        "privacy.private": "Tus datos son solo tuyos: envía {prefix}{command} en un chat privado con el bot.",
        "kept.days": "Su contenido se guarda como mucho {days} días.",
        "kept.forever": "Su contenido se guarda hasta que lo borres.",
        "pong": "pong",
        "help.title": "Comandos que puedes usar:",
        "help.more": "Envía {prefix}help COMANDO para ver los detalles.",
        "help.unknown": "No hay ningún comando {name} que puedas usar.",
        "help.usage": "Uso: {usage}",
        "whoami": "ID de Session: {user}\nIdioma: {language}\nRol: {role}\nGrupos: {groups}",
        "role.admin": "administrador",
        "role.user": "usuario (no administrador)",
        "none": "ninguno",
        "lang.current": "Tu idioma: {language}. Disponibles: {choices}.",
        "lang.set": "Tu idioma ahora es el español.",
        "plugins.title": "Plugins:",
        "plugins.enabled": "activado",
        "plugins.disabled": "desactivado",
        "plugins.line": "{name} {version} ({enabled}, {state}) salud: {health}; errores en la última hora: {rate}",
        "plugins.usage": "Uso: /plugins [reload|enable|disable|rollback NOMBRE | activate NOMBRE VERSIÓN]",
        "mydata": (
            "Lo que este bot guarda de ti. Mensajes: {messages}, comandos: {invocations}, respuestas: {replies}, "
            "archivos: {files}, idioma: {language}, permisos: {grants}, grupos: {groups}. {kept} "
            "El archivo adjunto lo contiene todo; {prefix}forgetme lo borra."
        ),
        "mydata.big": "Tus datos son demasiado grandes para adjuntarlos aquí; el operador del bot puede exportarlos.",
        "forgetme.ask": (
            "Esto borra tus mensajes, comandos, respuestas, archivos, idioma, permisos y grupos con este bot. "
            "Para confirmar, envía {prefix}forgetme {code} antes de {minutes} minutos."
        ),
        "forgetme.wrong": "Ese código es incorrecto o ha caducado. Envía {prefix}forgetme para obtener otro.",
        "forgetme.done": (
            "Hecho. Borrados mensajes: {messages}, comandos: {invocations}, respuestas: {replies}, "
            "archivos: {files}. Este comando y su respuesta se borran en la próxima purga."
        ),
    },
    "zh-hans": {
        "privacy.private": "你的数据只属于你：请在与机器人的私聊中发送 {prefix}{command}。",
        "kept.days": "其内容在 {days} 天后清除。",
        "kept.forever": "其内容会一直保留，直到你清除。",
        "pong": "pong",
        "help.title": "你可以使用的命令：",
        "help.more": "发送 {prefix}help 命令名 查看详情。",
        "help.unknown": "没有你可以使用的命令 {name}。",
        "help.usage": "用法：{usage}",
        "whoami": "Session ID：{user}\n语言：{language}\n角色：{role}\n群组：{groups}",
        "role.admin": "管理员",
        "role.user": "用户（非管理员）",
        "none": "无",
        "lang.current": "你的语言：{language}。可选：{choices}。",
        "lang.set": "你的语言现在是简体中文。",
        "plugins.title": "插件：",
        "plugins.enabled": "已启用",
        "plugins.disabled": "已停用",
        "plugins.line": "{name} {version}（{enabled}，{state}）健康：{health}；最近一小时错误率：{rate}",
        "plugins.usage": "用法：/plugins [reload|enable|disable|rollback 名称 | activate 名称 版本]",
        "mydata": (
            "此机器人保存的你的数据：{messages} 条消息、{invocations} 条命令、{replies} 条回复、{files} 个文件，"
            "语言：{language}，权限：{grants}，群组：{groups}。{kept}附件包含全部数据；"
            "{prefix}forgetme 可将其清除。"
        ),
        "mydata.big": "你的数据太大，无法在此附上；机器人的运营者可以为你导出。",
        "forgetme.ask": (
            "这将清除你在此机器人上的消息、命令、回复、文件、语言、权限和群组。"
            "如需确认，请在 {minutes} 分钟内发送 {prefix}forgetme {code}。"
        ),
        "forgetme.wrong": "验证码错误或已过期。发送 {prefix}forgetme 获取新的验证码。",
        "forgetme.done": (
            "完成：已清除 {messages} 条消息、{invocations} 条命令、{replies} 条回复和 {files} 个文件。"
            "此命令及其回复将在下次清除时删除。"
        ),
    },
}


def t(lang: str, key: str, /, **params: object) -> str:
    """The sentence ``key`` in ``lang`` (else English), with ``params`` filled in."""
    table = MESSAGES.get(lang) or MESSAGES["en"]
    return table.get(key, MESSAGES["en"][key]).format(**params)
