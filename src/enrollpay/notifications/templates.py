"""Notification templates: a subject, a text and an HTML part per kind and locale.

Templates use :class:`string.Template` placeholders (``${amount}``; ``$$``
for a dollar sign) filled with values the handler has already written for
the recipient. The HTML part gets every value HTML-escaped, the subject
gets each on one line, the text gets them as they are. Nothing in a
template is evaluated, so a template is safe to take from a designer or a
database.

The library ships templates for ``en``, ``fr``, ``de`` and ``ja`` as TOML
files (``texts/<locale>.toml``), one table per kind plus a ``greeting``
table. A host application overrides them with a mapping of kind to
:class:`Template` (:meth:`Templates.with_overrides`) or a directory of TOML
files of the same shape (:meth:`Templates.from_directory`); a locale is
looked up as given (``fr_CA``), then its language (``fr``), then the
handler's default locale.
"""

from __future__ import annotations

import functools
import html
import os
import string
import tomllib
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
from babel import Locale, UnknownLocaleError

from enrollpay.errors import NotificationTemplateError

__all__ = ["Greeting", "Rendered", "Template", "Templates", "normal_locale"]

_SHIPPED = ("en", "fr", "de", "ja")
_PARTS = ("subject", "text", "html")


def normal_locale(value: str) -> str:
    """``"fr-ca"`` -> ``"fr_CA"``: babel's spelling of a locale (``ValueError`` if unknown)."""
    try:
        return str(Locale.parse(value.replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError) as error:
        raise ValueError(f"unknown locale {value!r}") from error


def _names(text: str, where: str) -> frozenset[str]:
    template = string.Template(text)
    if not template.is_valid():
        raise NotificationTemplateError(
            f"{where}: a '$' must start a placeholder such as ${{amount}} (write $$ for '$')"
        )
    return frozenset(template.get_identifiers())


def _text(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str):
        raise NotificationTemplateError(f"a template's {attribute.name} must be a string")
    _names(value, f"the template's {attribute.name}")


def _subject(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    _text(instance, attribute, value)
    if not str(value).strip() or "\n" in str(value) or "\r" in str(value):
        raise NotificationTemplateError("a template's subject must be one line, not empty")


@attrs.frozen
class Rendered:
    """A template filled in."""

    subject: str
    text: str
    html: str


@attrs.frozen
class Template:
    """The three parts of one notification's message, with ``${name}`` placeholders."""

    subject: str = attrs.field(validator=_subject)
    text: str = attrs.field(validator=_text)
    html: str = attrs.field(validator=_text)

    @property
    def names(self) -> frozenset[str]:
        """Every value the parts use."""
        return frozenset().union(*(_names(getattr(self, p), p) for p in _PARTS))

    def render(self, values: Mapping[str, str]) -> Rendered:
        """Fill the parts: HTML-escaped values in ``html``, one-line values in ``subject``."""
        try:
            return Rendered(
                subject=string.Template(self.subject).substitute(
                    {k: " ".join(v.split()) for k, v in values.items()}
                ),
                text=string.Template(self.text).substitute(values),
                html=string.Template(self.html).substitute(
                    {k: html.escape(v) for k, v in values.items()}
                ),
            )
        except KeyError as error:
            raise NotificationTemplateError(f"no value for ${{{error.args[0]}}}") from error


@attrs.frozen
class Greeting:
    """How a message greets the student: with their name (``${name}``) or without."""

    named: str = attrs.field(validator=_subject)
    anonymous: str = attrs.field(validator=_subject)

    def __attrs_post_init__(self) -> None:
        extra = _names(self.named, "greeting") - {"name"} | _names(self.anonymous, "greeting")
        if extra:
            raise NotificationTemplateError(
                f"a greeting may use ${{name}} only, not {', '.join(sorted(extra))}"
            )

    def render(self, name: str | None) -> str:
        """The salutation for ``name`` (the anonymous one when there is none)."""
        if name and name.strip():
            return string.Template(self.named).substitute(name=" ".join(name.split()))
        return self.anonymous


def _table(data: Mapping[str, Any], key: str, where: str, parts: Iterable[str]) -> dict[str, str]:
    table = data[key]
    if not isinstance(table, Mapping) or set(table) != set(parts):
        raise NotificationTemplateError(f"{where}: [{key}] must have exactly {', '.join(parts)}")
    return {part: table[part] for part in parts}


def _parse(text: str, where: str) -> tuple[dict[str, Template], Greeting | None]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise NotificationTemplateError(f"{where}: not valid TOML ({error})") from error
    greeting = None
    kinds: dict[str, Template] = {}
    for key in data:
        if key == "greeting":
            greeting = Greeting(**_table(data, key, where, ("named", "anonymous")))
        else:
            kinds[key] = Template(**_table(data, key, where, _PARTS))
    return kinds, greeting


@functools.cache
def _shipped() -> Templates:
    folder = resources.files("enrollpay.notifications") / "texts"
    by_locale = {}
    greetings = {}
    for locale in _SHIPPED:
        kinds, greeting = _parse(folder.joinpath(f"{locale}.toml").read_text("utf-8"), locale)
        by_locale[locale] = kinds
        if greeting is not None:
            greetings[locale] = greeting
    return Templates(by_locale, greetings)


class Templates:
    """Templates by locale and kind, with each locale's greeting. Immutable."""

    def __init__(
        self,
        by_locale: Mapping[str, Mapping[str, Template]],
        greetings: Mapping[str, Greeting] | None = None,
    ) -> None:
        self._by_locale = {loc: dict(kinds) for loc, kinds in by_locale.items()}
        self._greetings = dict(greetings or {})

    @classmethod
    def shipped(cls) -> Templates:
        """The templates enrollpay ships: every kind in ``en``, ``fr``, ``de`` and ``ja``."""
        return _shipped()

    @classmethod
    def from_directory(
        cls, path: str | os.PathLike[str], *, base: Templates | None = None
    ) -> Templates:
        """``base`` (default: the shipped ones) with the ``<locale>.toml`` files of ``path`` on top.

        Each file holds a table per kind it overrides (``subject``, ``text``
        and ``html``) and may hold a ``greeting`` table (``named``,
        ``anonymous``); a file for a new locale adds that language.
        """
        folder = Path(path)
        if not folder.is_dir():
            raise NotificationTemplateError(f"no templates directory at {str(folder)!r}")
        merged = base or cls.shipped()
        for file in sorted(folder.glob("*.toml")):
            try:
                locale = normal_locale(file.stem)
            except ValueError as error:
                raise NotificationTemplateError(f"{file.name}: {error}") from error
            kinds, greeting = _parse(file.read_text(encoding="utf-8"), file.name)
            merged = merged._with(locale, kinds, greeting)
        return merged

    def with_overrides(
        self, overrides: Mapping[str, Template], *, locale: str | None = None
    ) -> Templates:
        """These templates with ``overrides`` (kind -> template) for ``locale``, or every locale."""
        if locale is not None:
            return self._with(normal_locale(locale), overrides, None)
        merged = self
        for each in self.locales:
            merged = merged._with(each, overrides, None)
        return merged

    def _with(
        self, locale: str, kinds: Mapping[str, Template], greeting: Greeting | None
    ) -> Templates:
        by_locale = {loc: dict(k) for loc, k in self._by_locale.items()}
        by_locale.setdefault(locale, {}).update(kinds)
        greetings = dict(self._greetings)
        if greeting is not None:
            greetings[locale] = greeting
        return Templates(by_locale, greetings)

    @property
    def locales(self) -> tuple[str, ...]:
        """The locales that have templates of their own."""
        return tuple(self._by_locale)

    def items(self) -> Iterable[tuple[str, str, Template]]:
        """Every (locale, kind, template)."""
        for locale, kinds in self._by_locale.items():
            for kind, template in kinds.items():
                yield locale, kind, template

    def find(self, kind: str, locales: Iterable[str]) -> tuple[Template, str] | None:
        """The template of ``kind`` for the first of ``locales`` that has one, and that locale."""
        for locale in locales:
            template = self._by_locale.get(locale, {}).get(kind)
            if template is not None:
                return template, locale
        return None

    def greeting(self, locales: Iterable[str]) -> Greeting:
        """The greeting of the first of ``locales`` that has one (English if none has)."""
        for locale in locales:
            if locale in self._greetings:
                return self._greetings[locale]
        return _shipped()._greetings["en"]
