"""The asynchronous router as an exact discrete-event simulation, compiled (Cython).

One step's messages are processed as arrays in one call. Every message has one
pending event at a time (entering its next link, or reaching its destination
core); events wait on a calendar of 1 ps buckets (a ring longer than the
longest single delay) and each bucket is processed in (time, message id) order. A link
serves messages first come first served: ``start = max(arrival, free)``,
``free = start + service``, and the message enters its next link at
``start + service + latency``. A destination core handles its messages in the
same order, each taking ``synaptic events * syn_op`` after the core finished
its own compartment updates.

Paths (dimension order, computed hop by hop):

1. on the source chip, XY over tiles to the destination tile, or, for another
   chip, to the exit tile: the border tile facing the first chip hop in the
   source tile's row (x hops) or column (y hops), tile (0, 0) for z hops;
2. chip hops over chip-to-chip links, x first, then y, then z;
3. on the destination chip, from the entry tile (the border facing where the
   message came from, in the destination tile's row or column; (0, 0) after a
   z hop), XY to the destination tile;
4. from the tile's router to the core (``in_tile``).
"""

from __future__ import annotations

SOURCE = r"""
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t
from libc.stdlib cimport abs as iabs, free as cfree, malloc
from libcpp.algorithm cimport sort
from libcpp.pair cimport pair
from libcpp.queue cimport priority_queue
from libcpp.vector cimport vector

cdef struct Msg:
    int32_t chip       # chip the message is on (or heading from, during chip hops)
    int32_t dchip
    int32_t dcore
    int32_t nxt        # next message in the same calendar bucket
    int16_t cdx, cdy, cdz   # chip hops still to go per dimension
    int16_t x, y       # tile the message is at
    int16_t tx, ty     # tile it is heading to on this chip
    int16_t dx, dy     # destination tile
    int16_t enx, eny   # entry tile on the destination chip
    int8_t phase       # 0 source chip, 1 chip hops, 2 destination chip, 3 to the core, 4 at the core
    int64_t when       # time of the message's pending event

cdef struct Link:
    int64_t free       # when the link can take its next message
    int64_t load       # messages it carried

cdef size_t ptr(object arr):
    return <size_t>arr.ctypes.data if arr.size else 0


def simulate(src, dst, nsyn_a, inject_a, board, costs, out):
    # Messages must come sorted by injection time: their order is the tie-break order (message id).
    # board: nx, ny, cores_per_tile, cores_per_chip, mesh (3 ints); costs: RouterCosts.as_dict();
    # out: arrive, done, hops, ew, ns, chip_hops (per message), link_load, link_free (per link),
    #      core_free (per board core, holding when each core is ready on entry)
    cdef int64_t n = inject_a.size
    cdef int64_t *s_core = <int64_t*>ptr(src)
    cdef int64_t *d_core = <int64_t*>ptr(dst)
    cdef int64_t *nsyn = <int64_t*>ptr(nsyn_a)
    cdef int64_t *inject = <int64_t*>ptr(inject_a)
    cdef int64_t *arrive = <int64_t*>ptr(out["arrive"])
    cdef int64_t *done = <int64_t*>ptr(out["done"])
    cdef int32_t *hops = <int32_t*>ptr(out["hops"])
    cdef int32_t *ew = <int32_t*>ptr(out["ew"])
    cdef int32_t *ns = <int32_t*>ptr(out["ns"])
    cdef int32_t *chops = <int32_t*>ptr(out["chip_hops"])
    cdef int64_t *load_out = <int64_t*>ptr(out["link_load"])
    cdef int64_t n_links = out["link_load"].size
    cdef Link *lk = <Link*>malloc(max(n_links, 1) * sizeof(Link))
    cdef int64_t *core_free = <int64_t*>ptr(out["core_free"])
    cdef int64_t nx = board["nx"], ny = board["ny"], cpt = board["cores_per_tile"]
    cdef int64_t cpc = board["cores_per_chip"], mx = board["mesh"][0], my = board["mesh"][1]
    cdef int64_t mz = board["mesh"][2], n_tiles = nx * ny, chips = mx * my * mz
    cdef int64_t chip_link_base = chips * n_tiles * 4
    cdef int64_t hop_ew = costs["hop_ew_ps"], hop_ns = costs["hop_ns_ps"], serv = costs["link_service_ps"]
    cdef int64_t chop = costs["chip_hop_ps"], cserv = costs["chip_link_service_ps"]
    cdef int64_t in_tile = costs["in_tile_ps"], syn_op = costs["syn_op_ps"]
    # calendar: buckets of 2**SHIFT ps, a ring longer than the longest single delay; every
    # delay exceeds a bucket, so processing a bucket never adds to it
    cdef int64_t SHIFT = 6
    cdef int64_t ring = 1
    while (ring << SHIFT) <= max(hop_ew, hop_ns, chop) + max(serv, cserv) + in_tile + (1 << SHIFT):
        ring *= 2
    if min(hop_ew, hop_ns, chop) + min(serv, cserv) <= (1 << SHIFT) or in_tile <= (1 << SHIFT):
        raise ValueError("router kernel: every delay must exceed the calendar bucket")
    cdef Msg *msg = <Msg*>malloc(max(n, 1) * sizeof(Msg))  # every field is set below
    cdef vector[int32_t] head = vector[int32_t](ring, -1)
    cdef vector[pair[int64_t, int32_t]] batch
    cdef priority_queue[pair[int64_t, int32_t]] later  # (-time, message): beyond the ring
    cdef pair[int64_t, int32_t] ev
    cdef Msg *g
    cdef int64_t i, m, t, tnow, pending = 0, k, link, lat = 0, sv = 0, start, tt, b, p = 0
    cdef int64_t sc, dc, st, dt, c0, c1, c2, e0, e1, e2, first, last, ex, ey
    if n == 0:
        cfree(lk)
        return 0
    for k in range(n_links):
        lk[k].free = 0
        lk[k].load = 0
    with nogil:
        t = (inject[0] >> SHIFT) << SHIFT  # start of the current bucket
        while pending or p < n or not later.empty():
            if pending == 0:  # nothing in the ring: jump to the next injection or far event
                tt = -1
                if p < n:
                    tt = inject[p]
                if not later.empty() and (tt < 0 or -later.top().first < tt):
                    tt = -later.top().first
                if t < ((tt >> SHIFT) << SHIFT):
                    t = (tt >> SHIFT) << SHIFT
            while not later.empty() and ((-later.top().first) >> SHIFT) < (t >> SHIFT) + ring:
                ev = later.top()
                later.pop()
                b = ((-ev.first) >> SHIFT) & (ring - 1)
                msg[ev.second].nxt = head[b]
                head[b] = ev.second
                pending += 1
            b = (t >> SHIFT) & (ring - 1)
            while p < n and inject[p] < t + (1 << SHIFT):  # messages leaving their cores in this bucket
                # the message's record, and its path's hop counts in closed form
                m = p
                g = &msg[m]
                sc, dc = s_core[m] // cpc, d_core[m] // cpc
                st, dt = (s_core[m] % cpc) // cpt, (d_core[m] % cpc) // cpt
                g.chip, g.dchip, g.dcore, g.phase = <int32_t>sc, <int32_t>dc, <int32_t>d_core[m], 0
                g.x, g.y = <int16_t>(st % nx), <int16_t>(st // nx)
                g.dx, g.dy = <int16_t>(dt % nx), <int16_t>(dt // nx)
                c0, c1, c2 = sc % mx, (sc // mx) % my, sc // (mx * my)
                e0, e1, e2 = dc % mx - c0, (dc // mx) % my - c1, dc // (mx * my) - c2
                g.cdx, g.cdy, g.cdz = <int16_t>e0, <int16_t>e1, <int16_t>e2
                g.enx, g.eny, g.nxt = 0, 0, -1
                if sc == dc:
                    g.tx, g.ty = g.dx, g.dy
                    ew[m] = iabs(g.dx - g.x)
                    ns[m] = iabs(g.dy - g.y)
                    chops[m] = 0
                else:
                    first = 0 if e0 != 0 else (1 if e1 != 0 else 2)
                    last = 2 if e2 != 0 else (1 if e1 != 0 else 0)
                    if first == 0:
                        ex, ey = (nx - 1 if e0 > 0 else 0), g.y
                    elif first == 1:
                        ex, ey = g.x, (ny - 1 if e1 > 0 else 0)
                    else:
                        ex, ey = 0, 0
                    g.tx, g.ty = <int16_t>ex, <int16_t>ey
                    if last == 0:
                        g.enx, g.eny = <int16_t>(0 if e0 > 0 else nx - 1), g.dy
                    elif last == 1:
                        g.enx, g.eny = g.dx, <int16_t>(0 if e1 > 0 else ny - 1)
                    else:
                        g.enx, g.eny = 0, 0
                    ew[m] = iabs(ex - g.x) + iabs(g.dx - g.enx)
                    ns[m] = iabs(ey - g.y) + iabs(g.dy - g.eny)
                    chops[m] = iabs(e0) + iabs(e1) + iabs(e2)
                hops[m] = ew[m] + ns[m] + chops[m]
                msg[p].when = inject[p]
                msg[p].nxt = head[b]
                head[b] = <int32_t>p
                pending += 1
                p += 1
            if head[b] < 0:
                t += 1 << SHIFT
                continue
            batch.clear()
            m = head[b]
            head[b] = -1
            while m >= 0:
                batch.push_back(pair[int64_t, int32_t](msg[m].when, <int32_t>m))
                m = msg[m].nxt
            if batch.size() > 1:
                sort(batch.begin(), batch.end())  # by time, then message id
            for i in range(<int64_t>batch.size()):
                m = batch[i].second
                tnow = batch[i].first
                g = &msg[m]
                pending -= 1
                link = -1
                # the next hop; phases: 0 source chip, 1 chip hops, 2 destination chip, 3 to core, 4 core
                while link < 0 and g.phase < 3:
                    if g.phase == 1:
                        if g.cdx != 0:
                            k = 0 if g.cdx > 0 else 1
                            link = chip_link_base + g.chip * 6 + k
                            g.chip += 1 if k == 0 else -1
                            g.cdx += -1 if k == 0 else 1
                        elif g.cdy != 0:
                            k = 2 if g.cdy > 0 else 3
                            link = chip_link_base + g.chip * 6 + k
                            g.chip += mx if k == 2 else -mx
                            g.cdy += -1 if k == 2 else 1
                        elif g.cdz != 0:
                            k = 4 if g.cdz > 0 else 5
                            link = chip_link_base + g.chip * 6 + k
                            g.chip += mx * my if k == 4 else -mx * my
                            g.cdz += -1 if k == 4 else 1
                        else:  # on the destination chip: enter at the border tile
                            g.x, g.y, g.tx, g.ty, g.phase = g.enx, g.eny, g.dx, g.dy, 2
                        if link >= 0:
                            lat, sv = chop, cserv
                    elif g.x != g.tx:
                        k = 0 if g.x < g.tx else 1
                        link = (g.chip * n_tiles + g.y * nx + g.x) * 4 + k
                        lat, sv = hop_ew, serv
                        g.x += 1 if k == 0 else -1
                    elif g.y != g.ty:
                        k = 2 if g.y < g.ty else 3
                        link = (g.chip * n_tiles + g.y * nx + g.x) * 4 + k
                        lat, sv = hop_ns, serv
                        g.y += 1 if k == 2 else -1
                    elif g.phase == 0 and g.chip != g.dchip:
                        g.phase = 1  # at the exit tile
                    else:
                        g.phase = 3
                if link >= 0:
                    start = tnow if tnow > lk[link].free else lk[link].free
                    lk[link].free = start + sv
                    lk[link].load += 1
                    tt = start + sv + lat
                    if g.x == g.dx and g.y == g.dy and g.chip == g.dchip and g.phase != 1:
                        g.phase = 4  # the hop ends at the destination tile: straight on to the core
                        tt = tt + in_tile
                        arrive[m] = tt
                elif g.phase == 3:  # at the destination tile already: to the core
                    g.phase = 4
                    arrive[m] = tnow + in_tile
                    tt = tnow + in_tile
                else:  # phase 4: the core processes the message's synaptic events first come first served
                    k = g.dcore
                    start = tnow if tnow > core_free[k] else core_free[k]
                    core_free[k] = start + nsyn[m] * syn_op
                    done[m] = core_free[k]
                    continue
                g.when = tt
                if (tt >> SHIFT) - (t >> SHIFT) >= ring:
                    later.push(pair[int64_t, int32_t](-tt, <int32_t>m))
                else:
                    b = (tt >> SHIFT) & (ring - 1)
                    g.nxt = head[b]
                    head[b] = <int32_t>m
                    pending += 1
            t += 1 << SHIFT
    for k in range(n_links):
        load_out[k] = lk[k].load
    cfree(lk)
    cfree(msg)
    return t
"""


def compiled():
    from neurochip.native import compile_cython

    return compile_cython(SOURCE, "neurochip_router")
