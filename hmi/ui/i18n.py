"""Translations without Qt's lrelease: YAML catalogs keyed by the English source text.

``resources/i18n/<lang>.yaml`` maps English text to the translation. :func:`tr` looks a
text up in the current language and falls back to the English source, so a missing
entry shows English rather than nothing. Switching the language at runtime emits
:attr:`I18n.sigLanguageChanged`; every widget that shows text re-reads it in its
``retranslate()`` slot. A unit test checks that every ``tr("...")`` literal in
``hmi/ui`` has a Chinese entry.
"""

from __future__ import annotations

import logging
from pathlib import Path

import yaml
from PySide6.QtCore import QObject, Signal

from hmi import paths
from hmi.core import reasons

log = logging.getLogger(__name__)

LANGUAGES = ("zh_CN", "en")


def load_catalog(lang: str, folder: Path | None = None) -> dict[str, str]:
    """English text -> translation for ``lang`` (empty for an unknown language)."""
    path = (folder or paths.resources_dir() / "i18n") / f"{lang}.yaml"
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        log.error("translation file %s is unreadable: %s", path, exc)
        return {}
    if not isinstance(data, dict):
        log.error("translation file %s must be a mapping of English text to translation", path)
        return {}
    return {str(k): str(v) for k, v in data.items() if v is not None}


class I18n(QObject):
    """The current language and its catalog (one instance per application)."""

    sigLanguageChanged = Signal(str)

    def __init__(self, lang: str = "zh_CN") -> None:
        super().__init__()
        self.lang = ""
        self._catalog: dict[str, str] = {}
        self._reasons: dict[str, str] = {}
        self.set_language(lang)

    def set_language(self, lang: str) -> None:
        """Switch language (``zh_CN`` or ``en``); emits sigLanguageChanged when it changes."""
        if lang not in LANGUAGES:
            log.warning("unknown language %r, using en", lang)
            lang = "en"
        if lang == self.lang:
            return
        self._catalog = load_catalog(lang)
        self._reasons = {}
        self.lang = lang
        log.info("language: %s", lang)
        self.sigLanguageChanged.emit(lang)

    @property
    def is_zh(self) -> bool:
        """True when Chinese is shown."""
        return self.lang.startswith("zh")

    def tr(self, text: str) -> str:  # type: ignore[override]  # not QObject.tr: the catalog
        """``text`` in the current language (the English source when untranslated)."""
        return self._catalog.get(text, text)

    def tr_reason(self, text: str) -> str:
        """A driver's or service's reason in the current language (see :mod:`hmi.core.reasons`)."""
        if not text or not self.is_zh:
            return text
        hit = self._reasons.get(text)
        if hit is None:
            if len(self._reasons) > 2000:  # reasons carry addresses and values: bound the cache
                self._reasons.clear()
            hit = self._reasons[text] = reasons.to_zh(text, self._catalog)
        return hit


_instance: I18n | None = None


def i18n() -> I18n:
    """The application's translator (created on first use, Chinese by default)."""
    global _instance
    if _instance is None:
        _instance = I18n()
    return _instance


def tr(text: str) -> str:
    """Translate ``text`` into the current language."""
    return i18n().tr(text)


def tr_reason(text: str) -> str:
    """A reason text (device state, BAD quality, write result, refusal) in the current language.

    The English original stays in logs, the journal and the audit; only the screen shows it
    translated."""
    return i18n().tr_reason(text)


def colon() -> str:
    """The separator after a headline: full-width "：" on the Chinese screen, ": " in English."""
    return "：" if i18n().is_zh else ": "


def N_(text: str) -> str:  # noqa: N802 - gettext convention
    """Mark ``text`` for translation where it is defined; translate it with :func:`tr` when shown."""
    return text


def lang() -> str:
    """Current language code."""
    return i18n().lang
