"""The page scripts' admission gate (ui.admission): first come, first served, bounded slots, bounded waits.

Reference: the gate's contract itself, rebuilt by hand with threads whose arrival order is forced (each thread
starts only once the previous one is seen waiting), so the expected order is known exactly.
"""

from __future__ import annotations

import threading
import time

import pytest

from ui.admission import Gate


def _wait_until(cond, timeout: float = 5.0) -> None:
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise AssertionError("condition not reached")
        time.sleep(0.001)


def _holder(gate: Gate, release: threading.Event, entered: threading.Event) -> threading.Thread:
    def body() -> None:
        with gate.turn():
            entered.set()
            release.wait(10)

    th = threading.Thread(target=body, daemon=True)
    th.start()
    return th


def test_waiters_are_admitted_in_arrival_order() -> None:
    """Reference: arrival order. One slot held; five threads arrive one after another; release: they run in order."""
    gate = Gate(1, max_wait=30.0)
    release, entered = threading.Event(), threading.Event()
    first = _holder(gate, release, entered)
    entered.wait(5)
    order: list[int] = []
    threads = []
    for i in range(5):
        def body(i: int = i) -> None:
            with gate.turn():
                order.append(i)
                time.sleep(0.002)  # long enough for a later thread to barge in, were the gate not ordered

        th = threading.Thread(target=body, daemon=True)
        th.start()
        _wait_until(lambda i=i: gate.waiting == i + 1)
        threads.append(th)
    release.set()
    for th in [first, *threads]:
        th.join(10)
    assert order == [0, 1, 2, 3, 4]
    assert gate.admitted == 6 and gate.overtime == 0 and gate.holders == 0


@pytest.mark.parametrize("slots", [1, 2, 3])
def test_never_more_holders_than_slots(slots: int) -> None:
    """Reference: the slot count. Twelve threads at once; the most inside together is exactly ``slots``."""
    gate = Gate(slots, max_wait=30.0)
    inside, most = [0], [0]
    lock = threading.Lock()
    start = threading.Barrier(12)

    def body() -> None:
        start.wait(10)
        with gate.turn():
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.01)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=body, daemon=True) for _ in range(12)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(20)
    assert most[0] == slots
    assert gate.holders == 0 and gate.waiting == 0


def test_nobody_waits_past_max_wait() -> None:
    """Reference: ``max_wait``. A holder that never leaves delays a newcomer by max_wait, not longer; the newcomer
    then runs beside it (two holders) and is counted as overtime."""
    gate = Gate(1, max_wait=0.2)
    release, entered = threading.Event(), threading.Event()
    first = _holder(gate, release, entered)
    entered.wait(5)
    t0 = time.monotonic()
    with gate.turn() as turn:
        assert gate.holders == 2
    elapsed = time.monotonic() - t0
    release.set()
    first.join(10)
    assert 0.2 <= turn.waited <= elapsed
    assert elapsed < 5.0  # bounded: far below the holder's 10 s
    assert gate.overtime == 1


def test_an_exception_passes_the_turn_on() -> None:
    """Reference: the next waiter. A holder that raises still frees its slot, and the waiter behind it gets in."""
    gate = Gate(1, max_wait=30.0)
    with pytest.raises(RuntimeError), gate.turn():
        raise RuntimeError("boom")
    assert gate.holders == 0
    with gate.turn() as turn:
        assert gate.holders == 1
    assert turn.waited < 1.0


def test_a_slow_holder_lends_its_slot_for_the_lease_only() -> None:
    """Reference: ``lease``. A holder that stays gives its slot up after the lease: the newcomer is admitted in turn
    (not as overtime) after about the lease, long before ``max_wait``, and runs beside it."""
    gate = Gate(1, max_wait=30.0, lease=0.2)
    release, entered = threading.Event(), threading.Event()
    first = _holder(gate, release, entered)
    entered.wait(5)
    with gate.turn() as turn:
        assert gate.holders == 2
    release.set()
    first.join(10)
    assert 0.15 <= turn.waited < 5.0
    assert gate.overtime == 0 and gate.admitted == 2


@pytest.mark.parametrize("slots, max_wait, lease", [(0, 1.0, 1.0), (1, -1.0, 1.0), (1, float("nan"), 1.0),
                                                    (1, 1.0, 0.0), (1, 1.0, float("nan"))])
def test_bad_settings_are_refused(slots: int, max_wait: float, lease: float) -> None:
    """Reference: the documented domain (slots >= 1, max_wait >= 0 seconds, lease > 0 seconds)."""
    with pytest.raises(ValueError):
        Gate(slots, max_wait, lease)


def test_a_deferred_turn_lets_every_waiting_first_turn_go_first() -> None:
    """Reference: the defer contract, with arrival order forced. A holds the slot while B and C queue for their
    first turns; A defers (it has sent its figure); B and C then run before the rest of A, in their order."""
    gate = Gate(1, max_wait=30.0)
    order: list[str] = []
    a_in, a_go = threading.Event(), threading.Event()

    def a() -> None:
        with gate.turn() as turn:
            order.append("A head")
            a_in.set()
            a_go.wait(10)
            turn.defer()
            order.append("A tail")

    def later(name: str) -> threading.Thread:
        def run() -> None:
            with gate.turn():
                order.append(name)
                time.sleep(0.01)

        t = threading.Thread(target=run)
        n = gate.waiting
        t.start()
        _wait_until(lambda: gate.waiting == n + 1)
        return t

    ta = threading.Thread(target=a)
    ta.start()
    a_in.wait(10)
    tb, tc = later("B"), later("C")
    a_go.set()
    for t in (ta, tb, tc):
        t.join(10)
    assert order == ["A head", "B", "C", "A tail"]
    assert gate.holders == 0 and gate.overtime == 0


def test_defer_with_nobody_waiting_goes_on_at_once_and_a_deferral_waits_at_most_max_wait() -> None:
    """Reference: ``max_wait``. Alone, a deferral costs nothing; behind a first turn that never gets a slot (the
    slot's holder stays), it gives up waiting after ``max_wait`` and runs anyway, counted as overtime."""
    gate = Gate(1, max_wait=0.3)
    with gate.turn() as turn:
        assert turn.defer() < 0.1
        assert gate.holders == 1
    assert gate.overtime == 0
    release, entered = threading.Event(), threading.Event()
    holder = _holder(gate, release, entered)
    entered.wait(5)
    waiter = threading.Thread(target=lambda: gate.turn().__enter__())  # a first turn stuck behind the holder
    with gate.turn() as turn:  # gets in as overtime after max_wait, beside the holder
        waiter.start()
        _wait_until(lambda: len(gate._queue) == 1)
        t0 = time.monotonic()
        turn.defer()
        assert 0.2 <= time.monotonic() - t0 < 2.0
    release.set()
    holder.join(10)
    waiter.join(10)
    assert gate.overtime >= 2
