"""The bulk load reads with Python's cyclic garbage collector off (it rescanned the
growing heap after every batch) and leaves it as it found it, also when the load fails."""

from __future__ import annotations

import gc

import pytest

from candour_search.service_layer.rebuild import without_cyclic_collection


def test_collection_is_off_while_loading_and_back_on_after_even_on_failure() -> None:
    assert gc.isenabled()
    with without_cyclic_collection():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), without_cyclic_collection():
        raise RuntimeError("the load failed")
    assert gc.isenabled()


def test_a_caller_that_had_it_off_keeps_it_off() -> None:
    gc.disable()
    try:
        with without_cyclic_collection():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
