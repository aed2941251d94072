"""Settings declared once: a config field's default, allowed values, help and flag in one place.

A config is a dataclass whose fields are made by `setting`:

    @dataclass
    class Config:
        lr: float = setting(1e-3, "peak learning rate", low=0, open_low=True, commands=("lm",))

The dataclass checks its values with `check_settings(self)` (in `__post_init__`), and the command
line (cli/) makes a flag of every field that names the commands taking it, with this help, type and
check. Adding a hyper-parameter is one `setting` line and the code that reads it.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from typing import Any, Callable, Optional

from utils import ConfigError


@dataclasses.dataclass(frozen=True)
class Setting:
    """What one config field means and which values it takes.

    Numbers lie in [low, high] (either end open, or absent); `choices` lists the only values;
    `optional` lets None stand for "unset"; `many` makes the value a list of such values, non-empty
    unless `empty_ok`, the whole list passing `list_rule` if there is one;
    `rule` is a check of its own, with `expected` saying it in words. `commands` are the commands
    whose command line takes it, as `flag` (default: --the-field-name).
    """

    help: str
    kind: type = str
    low: Optional[float] = None
    high: Optional[float] = None
    open_low: bool = False
    open_high: bool = False
    choices: tuple = ()
    optional: bool = False
    many: bool = False
    empty_ok: bool = False
    list_rule: Optional[Callable[[Any], bool]] = None
    rule: Optional[Callable[[Any], bool]] = None
    expected_text: str = ""
    flag: Optional[str] = None
    commands: tuple = ()

    @property
    def expected(self) -> str:
        """The allowed values in words, as an error message ends: "must be <expected>"."""
        if self.expected_text:
            text = self.expected_text
        elif self.choices:
            text = " or ".join(map(repr, self.choices))
        elif self.kind is bool:
            text = "True or False"
        elif self.kind is int:
            text = f"a whole number >= {self.low:g}" if self.low is not None else "a whole number"
        elif self.kind is float and self.high is None:
            sign = ">" if self.open_low else ">="
            text = "finite" + (f" and {sign} {self.low:g}" if self.low is not None else "")
        elif self.kind is float:
            left, right = "(" if self.open_low else "[", ")" if self.open_high else "]"
            text = f"in {left}{self.low:g}, {self.high:g}{right}"
        else:
            text = "a non-empty text"
        return text + (" or None" if self.optional else "")

    def accepts_one(self, value) -> bool:
        """Whether one value (one item of a list) is allowed."""
        if self.rule is not None:
            return self.rule(value)
        if self.choices:
            return value in self.choices
        if self.kind is bool:
            return isinstance(value, bool)
        if self.kind is str:
            return isinstance(value, str) and value != ""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind is int and not isinstance(value, int):
            return False
        if not math.isfinite(value):
            return False
        low_ok = self.low is None or value > self.low or (value == self.low and not self.open_low)
        high_ok = (
            self.high is None or value < self.high or (value == self.high and not self.open_high)
        )
        return low_ok and high_ok

    def accepts(self, value) -> bool:
        """Whether the field's value is allowed."""
        if value is None:
            return self.optional
        if self.many:
            return (
                isinstance(value, (list, tuple))
                and (len(value) > 0 or self.empty_ok)
                and all(self.accepts_one(v) for v in value)
                and (self.list_rule is None or self.list_rule(value))
            )
        return self.accepts_one(value)

    def parse(self, text: str):
        """One command-line word as this setting's value (argparse's `type`): a wrong word is an
        argparse error that says what is expected."""
        try:
            if self.kind is bool:
                value = {"on": True, "off": False}[text]
            elif self.kind in (int, float):
                value = self.kind(text)
            else:
                value = text
        except (KeyError, ValueError):
            value = None
        if value is None or not self.accepts_one(value):
            expected = "on or off" if self.kind is bool else self.expected.removesuffix(" or None")
            raise argparse.ArgumentTypeError(f"must be {expected}, got {text!r}")
        return value

    def flag_name(self, field_name: str) -> str:
        return self.flag or "--" + field_name.replace("_", "-")


def setting(default, help: str, **declaration) -> Any:
    """A dataclass field with its `Setting` (see there); a list default is copied for each
    instance. The field's kind is the default's type unless `kind` is given."""
    if "kind" not in declaration:
        sample = default[0] if isinstance(default, (list, tuple)) and default else default
        declaration["kind"] = type(sample) if sample is not None else str
    if isinstance(default, list):
        declaration.setdefault("many", True)
        items = list(default)
        return dataclasses.field(
            default_factory=lambda: list(items),
            metadata={"setting": Setting(help, **declaration)},
        )
    return dataclasses.field(default=default, metadata={"setting": Setting(help, **declaration)})


def with_default(config, name: str, default) -> Any:
    """The field `name` that config dataclass `config` declares, with another default: a subclass
    keeps the one declaration (help, values, flag) and changes only where it starts."""
    return dataclasses.field(default=default, metadata={"setting": settings_of(config)[name]})


def settings_of(config) -> dict[str, Setting]:
    """{field name: Setting} of a config dataclass (or instance), in the order of its fields."""
    return {
        f.name: f.metadata["setting"] for f in dataclasses.fields(config) if "setting" in f.metadata
    }


def check_settings(config, name: Optional[str] = None) -> None:
    """utils.ConfigError naming the first field whose value its Setting does not allow ("LMConfig.lr
    must be finite and > 0, got -1.0"); `name` is the config's name in the message."""
    for field, declared in settings_of(config).items():
        value = getattr(config, field)
        if not declared.accepts(value):
            raise ConfigError(name or type(config).__name__, field, declared.expected, value)
