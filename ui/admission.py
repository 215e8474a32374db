"""First come, first served: how many page scripts run at once, and in what order.

Streamlit runs every session's script on its own thread, and the threads share
one interpreter lock. When twenty students change a control in the same second,
twenty scripts then advance together a few milliseconds at a time and all
finish at the end, so the median student waits as long as the last one: the
whole hall's work. With :class:`Gate` at most ``slots`` scripts run while the
others wait in the order they came. The total work is the same, but the first
student gets a figure after one view's time, the median after half the hall's.

What a student waits for is the figure. A page that has sent its figure
defers the rest of its turn (:meth:`Turn.defer`): the scripts still waiting
for their first turn go ahead, and the deferred parts run after them, in
order. Twenty changes at once then cost the median student half the hall's
figures, not half the hall's whole pages.

A slow view must not hold up the others for long, so a slot is only lent:
after ``lease`` seconds its holder goes on running but no longer counts, and
the next script is let in beside it (the crowd then shares the interpreter as
it would without the gate). And no script waits more than ``max_wait`` seconds
for its turn, nor a deferred remainder for its own: after that it runs anyway
(at most twice ``max_wait`` in all for a page that defers).

Nothing here imports streamlit: the gate is plain threading, tested on its own.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterator


class Gate:
    """At most ``slots`` holders within their lease at once; waiters admitted in arrival order.

    Parameters
    ----------
    slots : int
        Holders at once (at least 1).
    max_wait : float
        Seconds a waiter waits at most, for a first turn or a deferred one; then it runs anyway.
    lease : float
        Seconds a holder keeps its slot; after that it runs on without one (``inf``: until it leaves).
    """

    def __init__(self, slots: int, max_wait: float, lease: float = float("inf")) -> None:
        if slots < 1:
            raise ValueError(f"a gate needs at least one slot, got {slots}")
        if not max_wait >= 0.0:
            raise ValueError(f"max_wait must be a number of seconds >= 0, got {max_wait}")
        if not lease > 0.0:
            raise ValueError(f"lease must be a number of seconds > 0, got {lease}")
        self.slots = slots
        self.max_wait = max_wait
        self.lease = lease
        self._cond = threading.Condition()
        self._queue: deque[object] = deque()
        #: Holders that deferred the rest of their turn (:meth:`Turn.defer`), in the order they did.
        self._later: deque[object] = deque()
        #: Holder -> when it got in (monotonic seconds).
        self._since: dict[object, float] = {}
        #: Admissions that waited their turn, and those that gave up waiting (for benchmarks and tests).
        self.admitted = 0
        self.overtime = 0

    @property
    def holders(self) -> int:
        """Scripts inside the gate now (within their lease or not)."""
        return len(self._since)

    def _next_free(self, now: float) -> float:
        """0 when a slot is free at ``now``, else the seconds until the earliest lease ends (called under the lock)."""
        ends = sorted(t + self.lease for t in self._since.values() if now - t < self.lease)
        return 0.0 if len(ends) < self.slots else ends[len(ends) - self.slots] - now

    @property
    def waiting(self) -> int:
        """Scripts waiting for their turn now (first turns and deferred ones)."""
        return len(self._queue) + len(self._later)

    def _enter(self, me: object, later: bool) -> float:
        """Wait until ``me`` may hold a slot, then hold it; seconds waited.

        A first turn goes when a slot is free and it heads the queue; a deferred one (``later``) only when,
        besides, no first turn is waiting.
        """
        t0 = time.monotonic()
        deadline = t0 + self.max_wait
        queue = self._later if later else self._queue
        with self._cond:
            queue.append(me)
            while True:
                now = time.monotonic()
                free_in = self._next_free(now)
                if free_in <= 0.0 and queue[0] is me and not (later and self._queue):
                    self.admitted += 1
                    break
                left = deadline - now
                if left <= 0.0:
                    self.overtime += 1
                    break
                # Woken by a holder leaving or a waiter moving up; else when a lease ends or this wait is over.
                self._cond.wait(min(left, free_in) if free_in > 0.0 else left)
            queue.remove(me)
            self._since[me] = time.monotonic()
            # The next in line may be admissible now (it is at the head of the queue, and a slot may be free).
            self._cond.notify_all()
        return time.monotonic() - t0

    def _leave(self, me: object) -> None:
        with self._cond:
            self._since.pop(me, None)
            self._cond.notify_all()

    @contextlib.contextmanager
    def turn(self) -> Iterator[Turn]:
        """Wait for this caller's turn, hold a slot for the ``with`` block, then pass it on.

        Yields
        ------
        Turn
            Its ``waited`` seconds, and :meth:`Turn.defer` to let the others' first turns go ahead.
        """
        me = object()
        turn = Turn(self, me, self._enter(me, later=False))
        try:
            yield turn
        finally:
            self._leave(me)


class Turn:
    """One holder's turn in a :class:`Gate`.

    Attributes
    ----------
    waited : float
        Seconds waited before it got in (deferrals included).
    """

    def __init__(self, gate: Gate, me: object, waited: float) -> None:
        self._gate = gate
        self._me = me
        self.waited = waited

    def defer(self) -> float:
        """Hand the slot to every script still waiting for its first turn, then take one again after them.

        A page calls it once it has sent its figure: what is left of it (the controls, the tables under the
        figure) waits until the others have sent theirs, at most ``max_wait`` seconds.

        Returns
        -------
        float
            Seconds waited.
        """
        self._gate._leave(self._me)
        waited = self._gate._enter(self._me, later=True)
        self.waited += waited
        return waited
