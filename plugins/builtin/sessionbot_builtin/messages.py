# ruff: noqa: RUF001 - full-width punctuation is correct in Chinese text
"""The built-in plugins' sentences in the bot's languages.

Plugins run without Django, so they carry their own translations: a table per language,
falling back to English. Third-party plugins may copy this pattern.
"""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
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
    },
    "es": {
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
    },
    "zh-hans": {
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
    },
}


def t(lang: str, key: str, /, **params: object) -> str:
    """The sentence ``key`` in ``lang`` (else English), with ``params`` filled in."""
    table = MESSAGES.get(lang) or MESSAGES["en"]
    return table.get(key, MESSAGES["en"][key]).format(**params)
