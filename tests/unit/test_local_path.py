"""Every "next" and "back" a form carries stays on this site (no open redirect)."""

from __future__ import annotations

import pytest

from crm.views.security import local_path


@pytest.mark.parametrize(
    ("target", "under", "kept"),
    [
        ("/today", "/", "/today"),
        ("/factories/?q=abc&page=2", "/factories", "/factories/?q=abc&page=2"),
        ("/pipeline/stuck?list=stale", "/pipeline/", "/pipeline/stuck?list=stale"),
        ("/today", "/factories", None),
        ("//evil.example/today", "/", None),
        ("https://evil.example/today", "/", None),
        ("/\\evil.example", "/", None),
        ("", "/", None),
        (None, "/", None),
    ],
)
def test_only_a_path_of_this_site_under_its_prefix_is_kept(target, under, kept):
    assert local_path(target, under) == kept
