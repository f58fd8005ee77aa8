"""Fonts for rasterising: brotli from the Python package, else libbrotlidec, else one clear error."""

from __future__ import annotations

import ctypes.util
import shutil
import sys

import brotli  # a declared dependency; the module object stays usable when a test hides it
import pytest

from synth import cli, fonts
from synth.fonts import FontError, brotli_decompressor, default_cache_dir, install_fontconfig


@pytest.fixture
def no_brotli_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "brotli", None)  # makes ``import brotli`` raise ImportError


@pytest.fixture
def no_brotli_at_all(no_brotli_package, monkeypatch):
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)


def test_the_python_package_is_preferred():
    assert brotli_decompressor() is brotli


def test_libbrotlidec_is_the_fallback(no_brotli_package):
    if ctypes.util.find_library("brotlidec") is None:
        pytest.skip("no libbrotlidec on this machine")
    dec = brotli_decompressor()
    assert isinstance(dec, fonts._LibBrotli)
    data = bytes(range(256)) * 64
    assert dec.decompress(brotli.compress(data)) == data


def test_neither_is_one_clear_error(no_brotli_at_all, tmp_path):
    with pytest.raises(FontError, match="needs brotli.*pip install brotli.*libbrotlidec"):
        brotli_decompressor()
    with pytest.raises(FontError, match=f"{tmp_path}.*brotli"):
        install_fontconfig(tmp_path / "fonts")  # nothing extracted yet: a font must be decoded


def test_already_extracted_fonts_need_no_brotli(tmp_path, monkeypatch):
    install_fontconfig()  # the default cache, extracted with brotli
    target = tmp_path / "fonts"
    target.mkdir()
    for ttf in default_cache_dir().glob("*.ttf"):
        shutil.copy(ttf, target)
    monkeypatch.setitem(sys.modules, "brotli", None)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    assert install_fontconfig(target).is_file()


def test_cli_without_brotli_fails_at_start_with_one_line(no_brotli_at_all, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # fonts not extracted yet
    code = cli.main(["make", "--source", "random", "--count", "1", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3 and len(err) == 1 and "brotli" in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "out" / "manifest.json").exists()  # nothing started
