"""read_options: one way for every opener to sort, check and type a URL's options."""

from __future__ import annotations

import pytest

from kv_core import InvalidStoreURL, parse_bool
from kv_core.urls import parse_int, read_options

KNOWN = {"prune": parse_bool, "size": parse_int, "name": None}


def test_known_options_are_read_by_their_readers() -> None:
    """URL text becomes typed values; options not given are absent."""
    options = read_options("x://h/p?prune=yes&size=12", known=KNOWN)
    assert options.store == {"prune": True, "size": 12}
    assert options.driver_query == {}


def test_keywords_win_over_the_url_and_are_read_too() -> None:
    """A keyword argument replaces the URL's option of the same name."""
    options = read_options("x://h?size=12&name=a", {"size": "3", "name": object}, known=KNOWN)
    assert options.store == {"size": 3, "name": object}


def test_unknown_option_names_it_and_the_known_ones() -> None:
    """The message names the unknown option and lists every known one, sorted."""
    with pytest.raises(InvalidStoreURL, match=r"colour.*valid options: name, prune, size$"):
        read_options("x://h?colour=red", known=KNOWN)
    with pytest.raises(InvalidStoreURL, match="colour"):
        read_options("x://h", {"colour": "red"}, known=KNOWN)


def test_driver_options_pass_through() -> None:
    """Listed driver options go to the driver; the message lists them among the valid ones."""
    options = read_options(
        "x://h/p?charset=utf8&size=1", {"timeout": 2}, known=KNOWN, driver=("charset", "timeout")
    )
    assert options.store == {"size": 1}
    assert options.driver_query == {"charset": "utf8"}
    assert options.driver_keywords == {"timeout": 2}
    assert options.driver_url() == "x://h/p?charset=utf8"
    with pytest.raises(InvalidStoreURL, match="valid options: charset, name, prune, size"):
        read_options("x://h?colr=1", known=KNOWN, driver=("charset",))


def test_everything_else_is_the_drivers_with_no_list() -> None:
    """driver=None: every option the store does not know is the driver's."""
    options = read_options("unix:///run/r.sock?db=2&name=a&x=1", {"x": 5}, known=KNOWN, driver=None)
    assert options.store == {"name": "a"}
    # A keyword overrides the URL's option: the driver gets it once, as the keyword.
    assert options.driver_query == {"db": "2"}
    assert options.driver_keywords == {"x": 5}
    assert options.driver_url() == "unix:///run/r.sock?db=2"


def test_aliases_name_known_options() -> None:
    """A keyword alias sets the option it stands for."""
    options = read_options("x://h?size=1", {"length": "9"}, known=KNOWN, aliases={"length": "size"})
    assert options.store == {"size": 9}


def test_bad_values_are_invalid_store_urls() -> None:
    """A value its reader refuses is an InvalidStoreURL naming the option."""
    with pytest.raises(InvalidStoreURL, match="option size must be an int"):
        read_options("x://h?size=big", known=KNOWN)
    with pytest.raises(InvalidStoreURL, match="option prune must be true or false"):
        read_options("x://h?prune=maybe", known=KNOWN)


def test_not_a_url() -> None:
    """Text without scheme:// is refused before any option is read."""
    with pytest.raises(InvalidStoreURL, match="expected scheme://"):
        read_options("no-scheme", known=KNOWN)
