"""A plainly written discrete-event reference of the router (DESIGN.md section 8).

Each message's path is built as a list of links from the rules in
``neurochip/routing/kernel.py``; then a priority queue holds one event per
message per hop, ordered by (time, message id). Links and cores serve first
come first served.
"""

import heapq

EW, NS, CHIP = "ew", "ns", "chip"


def chip_xyz(chip, mesh):
    mesh = tuple(mesh) + (1,) * (3 - len(mesh))
    return chip % mesh[0], (chip // mesh[0]) % mesh[1], chip // (mesh[0] * mesh[1])


def path(src, dst, board):
    """[(link key, kind)] from board core ``src`` to board core ``dst``."""
    chip = board.chip
    nx, ny = chip.tiles
    cpc = chip.cores_per_chip
    mesh = tuple(board.mesh) + (1,) * (3 - len(board.mesh))
    sc, dc = src // cpc, dst // cpc
    st, dt = (src % cpc) // chip.cores_per_tile, (dst % cpc) // chip.cores_per_tile
    x, y = st % nx, st // nx
    tx, ty = dt % nx, dt // nx
    links = []

    def walk(c, x, y, gx, gy):
        while x != gx:
            d = "E" if gx > x else "W"
            links.append(((c, x, y, d), EW))
            x += 1 if d == "E" else -1
        while y != gy:
            d = "N" if gy > y else "S"
            links.append(((c, x, y, d), NS))
            y += 1 if d == "N" else -1
        return x, y

    if sc == dc:
        walk(sc, x, y, tx, ty)
        return links
    a, b = chip_xyz(sc, mesh), chip_xyz(dc, mesh)
    delta = [b[k] - a[k] for k in range(3)]
    dims = [k for k in range(3) if delta[k]]
    first, last = dims[0], dims[-1]
    if first == 0:
        ex, ey = (nx - 1 if delta[0] > 0 else 0), y
    elif first == 1:
        ex, ey = x, (ny - 1 if delta[1] > 0 else 0)
    else:
        ex, ey = 0, 0
    walk(sc, x, y, ex, ey)
    c = list(a)
    for k in range(3):
        while c[k] != b[k]:
            step = 1 if b[k] > c[k] else -1
            cur = c[0] + mesh[0] * (c[1] + mesh[1] * c[2])
            links.append((("chip", cur, k, step), CHIP))
            c[k] += step
    if last == 0:
        enx, eny = (0 if delta[0] > 0 else nx - 1), ty
    elif last == 1:
        enx, eny = tx, (0 if delta[1] > 0 else ny - 1)
    else:
        enx, eny = 0, 0
    walk(dc, enx, eny, tx, ty)
    return links


def simulate(board, costs, src, dst, n_syn, inject, core_ready):
    """Per message (arrival at the core, done); per core the time it is done."""
    lat = {EW: costs.hop_ew_ps, NS: costs.hop_ns_ps, CHIP: costs.chip_hop_ps}
    serv = {EW: costs.link_service_ps, NS: costs.link_service_ps, CHIP: costs.chip_link_service_ps}
    paths = [path(int(s), int(d), board) for s, d in zip(src, dst, strict=True)]
    free, core_free = {}, dict(enumerate(int(c) for c in core_ready))
    arrive, done = [0] * len(paths), [0] * len(paths)
    loads = {}
    # message ids: injection order, ties in the given order
    rank = {m: r for r, m in enumerate(sorted(range(len(paths)), key=lambda m: (int(inject[m]), m)))}
    queue = [(int(t), rank[m], m, 0) for m, t in enumerate(inject)]
    heapq.heapify(queue)
    while queue:
        t, r, m, h = heapq.heappop(queue)
        p = paths[m]
        if h < len(p):
            key, kind = p[h]
            start = max(t, free.get(key, 0))
            free[key] = start + serv[kind]
            loads[key] = loads.get(key, 0) + 1
            heapq.heappush(queue, (start + serv[kind] + lat[kind], r, m, h + 1))
        elif h == len(p):
            arrive[m] = t + costs.in_tile_ps
            heapq.heappush(queue, (arrive[m], r, m, h + 1))
        else:
            core = int(dst[m])
            start = max(t, core_free[core])
            core_free[core] = start + int(n_syn[m]) * costs.syn_op_ps
            done[m] = core_free[core]
    return arrive, done, core_free, loads, paths
