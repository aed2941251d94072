"""Settings declared once (common/settings.py): the config's check and the flag's parsing."""

from __future__ import annotations

import argparse
import dataclasses
import math
from typing import Optional

import pytest

import utils
from common.settings import Setting, check_settings, setting, settings_of


@dataclasses.dataclass
class Toy:
    width: int = setting(8, "units", low=1, commands=("go",))
    rate: float = setting(0.5, "step size", low=0, open_low=True, commands=("go",), flag="--lr")
    keep: float = setting(0.0, "share dropped", low=0, high=1, open_high=True)
    decay: float = setting(1.0, "factor per step", low=0, high=1, open_low=True)
    kind: str = setting("mean", "pooling", choices=("mean", "kernel"))
    tied: bool = setting(False, "share the vectors")
    limit: Optional[int] = setting(None, "a cap", kind=int, low=1, optional=True)
    grid: list = setting([0.1, 0.2], "values tried", low=0)
    even: int = setting(2, "an even count", rule=lambda v: v % 2 == 0, expected_text="even")
    plain: int = 3

    def __post_init__(self):
        check_settings(self, "Toy")


def test_each_field_that_declares_a_setting_is_listed_in_order():
    assert list(settings_of(Toy)) == [
        "width",
        "rate",
        "keep",
        "decay",
        "kind",
        "tied",
        "limit",
        "grid",
        "even",
    ]
    assert settings_of(Toy())["rate"].flag_name("rate") == "--lr"
    assert settings_of(Toy)["keep"].flag_name("keep") == "--keep"


def test_a_list_default_is_copied_for_each_config():
    a, b = Toy(), Toy()
    a.grid.append(9.0)
    assert b.grid == [0.1, 0.2]


@pytest.mark.parametrize(
    "field, expected",
    [
        ("width", "a whole number >= 1"),
        ("rate", "finite and > 0"),
        ("keep", "in [0, 1)"),
        ("decay", "in (0, 1]"),
        ("kind", "'mean' or 'kernel'"),
        ("tied", "True or False"),
        ("limit", "a whole number >= 1 or None"),
        ("grid", "finite and >= 0"),
        ("even", "even"),
    ],
)
def test_the_allowed_values_in_words(field, expected):
    assert settings_of(Toy)[field].expected == expected


@pytest.mark.parametrize(
    "field, good, bad",
    [
        ("width", [1, 10**6], [0, -1, 1.5, True, "2", None]),
        ("rate", [1e-9, 3.0], [0.0, -1.0, math.nan, math.inf]),
        ("keep", [0.0, 0.999], [1.0, -0.1, math.nan]),
        ("decay", [1.0, 1e-3], [0.0, 1.1]),
        ("kind", ["mean", "kernel"], ["max", "", None]),
        ("tied", [True, False], [0, 1, "on"]),
        ("limit", [None, 1], [0]),
        ("grid", [[0.0], [1.0, 2.0]], [[], [-1.0], [math.inf], 0.5]),
        ("even", [0, 4], [3]),
    ],
)
def test_a_config_refuses_each_value_its_setting_does_not_allow(field, good, bad):
    for value in good:
        assert getattr(Toy(**{field: value}), field) == value
    for value in bad:
        with pytest.raises(utils.ConfigError) as info:
            Toy(**{field: value})
        assert info.value.field == field
        assert str(info.value) == (
            f"Toy.{field} must be {settings_of(Toy)[field].expected}, got {value!r}"
        )


def test_a_field_without_a_setting_is_not_checked():
    assert Toy(plain=-5).plain == -5


def test_a_command_line_word_is_parsed_as_the_setting_says():
    declared = settings_of(Toy)
    assert declared["width"].parse("12") == 12
    assert declared["rate"].parse("2e-3") == 0.002
    assert declared["tied"].parse("on") is True and declared["tied"].parse("off") is False
    assert declared["limit"].parse("5") == 5
    for field, word, message in [
        ("width", "1.5", "must be a whole number >= 1, got '1.5'"),
        ("width", "0", "must be a whole number >= 1, got '0'"),
        ("rate", "inf", "must be finite and > 0, got 'inf'"),
        ("rate", "nan", "must be finite and > 0, got 'nan'"),
        ("tied", "yes", "must be on or off, got 'yes'"),
        ("kind", "max", "must be 'mean' or 'kernel', got 'max'"),
        ("limit", "0", "must be a whole number >= 1, got '0'"),
    ]:
        with pytest.raises(argparse.ArgumentTypeError, match=message.replace("(", r"\(")):
            declared[field].parse(word)


def test_a_setting_is_one_frozen_record():
    declared = Setting("help", kind=int, low=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        declared.low = 1
