"""The asynchronous router as an exact discrete-event simulation, compiled (C++ through Cython).

One step's messages are processed as arrays in one call. Every message has one
pending event at a time (entering its next link, or reaching its destination
core), processed in (time, message id) order. A link serves messages first come
first served: ``start = max(arrival, free)``, ``free = start + service``, and
the message enters its next link at ``start + service + latency``. A
destination core handles its messages in the same order, each taking
``synaptic events * syn_op`` after the core finished its own compartment
updates.

Paths (dimension order, computed hop by hop):

1. on the source chip, XY over tiles to the destination tile, or, for another
   chip, to the exit tile: the border tile facing the first chip hop in the
   source tile's row (x hops) or column (y hops), tile (0, 0) for z hops;
2. chip hops over chip-to-chip links, x first, then y, then z;
3. on the destination chip, from the entry tile (the border facing where the
   message came from, in the destination tile's row or column; (0, 0) after a
   z hop), XY to the destination tile;
4. from the tile's router to the core (``in_tile``).

How it is computed exactly, and fast: every link and core belongs to a chip,
and a message's event belongs to the chip it is on. Chips interact only through
chip-to-chip links, and a message that crosses one reaches the next chip at
least ``W = chip_hop + chip_link_service`` later. So time is cut into global
windows of length ``W``: within a window every chip runs its own messages
without hearing from the others, and what crosses a chip link is handed over
between windows, always into a later window (per thread-pair mailboxes, so the
chips are shared among OpenMP threads without locks). A chip that no message
can reach before some time (its *horizon*, from walking every injected
message's dimension-order path at the earliest) runs ahead up to it.

Within a window a chip serves its tile links in topological order of the
dimension-order paths (east links west to east, west links east to west, then
north and south likewise): every message a link serves came from an earlier
link in that order, so each link sees its whole window's arrivals, sorted by
(time, message id), before it serves any - the first-come-first-served order
a global event queue would give. Messages that arrive at or after the window's
end wait for the next one. Cores are served the same way after the links.
"""

from __future__ import annotations

import os

SOURCE = r"""
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# distutils: language = c++
from libc.stdint cimport int32_t, int64_t

cdef extern from *:
    '''
    #include <algorithm>
    #include <cstdint>
    #include <cstdlib>
    #include <limits>
    #include <queue>
    #include <vector>
    #ifdef _OPENMP
    #include <omp.h>
    #endif

    namespace ncr {

    const int64_t NEVER = std::numeric_limits<int64_t>::max();

    struct Ev {                 // a message on its way
        int32_t id, pos, dcore, dchip, chip, nsyn;  // pos: in chip order; chip: where it is
        int16_t cdx, cdy, cdz;  // chip hops still to go per dimension
        int8_t x, y, tx, ty, dx, dy, enx, eny, phase;
        // phase: 0 on the source chip, 1 on chip-to-chip links, 2 on the destination chip
    };
    struct Item { int64_t when; int32_t id, slot; };      // a message waiting for a tile link
    struct RItem { Item it; int32_t rank, pad; };         // ... and which link (by rank)
    struct Move { int64_t when; int32_t id, dir; Ev ev; };  // a message at a chip link
    struct MKey { int64_t when; int32_t id, dir, at, pad; };  // sorts the moves at chip links
    struct Arr { int64_t when; int32_t id, pos, nsyn, core; };  // a message reaching its core
    struct In { int64_t inject; int32_t id, dcore, dchip, nsyn; int16_t sl, dl; };  // a message in
                                    // chip order (sl, dl: source and destination core on their chip)
    struct Out { int64_t arrive, done; int32_t hops, ew, ns, chops; };

    struct Earlier {
        template <class T> bool operator()(const T& a, const T& b) const {
            return a.when < b.when || (a.when == b.when && a.id < b.id);
        }
        bool operator()(const RItem& a, const RItem& b) const { return (*this)(a.it, b.it); }
    };

    // [first, last) holds sorted runs one after another (what each feeder appended): sort it
    // by merging the runs (a merge sort when the order is arbitrary)
    template <class T> void merge_runs(T* first, T* last, std::vector<T>& tmp, std::vector<size_t>& b) {
        const size_t n = last - first;
        if (n < 2) return;
        b.clear();
        b.push_back(0);
        for (size_t i = 1; i < n; ++i) if (Earlier()(first[i], first[i - 1])) b.push_back(i);
        if (b.size() == 1) return;
        b.push_back(n);
        tmp.resize(n);
        T* src = first;
        T* dst = tmp.data();
        while (b.size() > 2) {
            size_t w = 1, k = 0;
            for (; k + 2 < b.size(); k += 2) {
                std::merge(src + b[k], src + b[k + 1], src + b[k + 1], src + b[k + 2], dst + b[k], Earlier());
                b[w++] = b[k + 2];
            }
            if (k + 1 < b.size()) {
                std::copy(src + b[k], src + b[k + 1], dst + b[k]);
                b[w++] = b[k + 1];
            }
            b.resize(w);
            std::swap(src, dst);
        }
        if (src != first) std::copy(src, src + n, first);
    }

    struct Params {
        int64_t nx, ny, cpt, cpc, mx, my, mz, n_tiles, chip_link_base;
        int64_t hop_ew, hop_ns, serv, chop, cserv, in_tile, syn_op, window;
        const int64_t *s_core, *d_core, *nsyn, *inject;
        int64_t *arrive, *done, *link_load, *core_free, *link_free;
        int32_t *hops, *ew, *ns, *chops;
        int64_t *totals;    // hops, ew, ns, chip hops, last arrival
        int per_message;    // write arrive, done, hops, ew, ns, chip hops per message
        const In* in;       // the messages grouped by source chip
        Out* out;           // their results, in the same order
        // a chip's tile links are served in rank order: X links (east chains ascending, west
        // chains descending in x), then Y links (north ascending, south descending in y); a
        // link's rank is above those of every link feeding it; its chip links come after
        int64_t n_links, x_end, y_end;      // ranks [0, x_end) X links, [x_end, y_end) Y links
        std::vector<int32_t> rank_of, link_of;
        std::vector<uint8_t> chained;       // per rank: the rank before it feeds it directly
        std::vector<int8_t> core_x, core_y; // per core of a chip: its tile
        std::vector<int16_t> chip_x, chip_y, chip_z;  // per chip: where it is on the board
        std::vector<int32_t> owner;         // per chip: the thread that runs it
        int cpc_shift;                      // cores per chip = 2**cpc_shift, or -1
        inline int64_t chip_of(int64_t core) const { return cpc_shift >= 0 ? core >> cpc_shift : core / cpc; }
    };

    struct Scratch {                        // a thread's working space, whichever chip it runs
        std::vector<RItem> start, turn_y, wait_next, sorted_start, sorted_y, rtmp;
        std::vector<Item> carry, carry_next, input, tmp;
        std::vector<size_t> bounds;
        std::vector<int32_t> count;
        std::vector<Arr> arrivals, arr_sorted, arr_tmp;
        std::vector<Move> links;            // messages at the chip's chip links this window
        std::vector<MKey> keys, ktmp;
        std::vector<std::vector<Move>>* box;  // messages for other chips, per receiving thread
    };

    struct Chip {
        std::vector<Ev> pool;
        std::vector<int32_t> spare;
        std::vector<RItem> wait;            // at tile links beyond the last window, by rank
        std::vector<Move> wait_links;       // at chip links beyond the last window
        std::vector<int64_t> free;          // per link of the chip (tile links, then chip links)
        std::vector<int32_t> load;
        std::vector<Move> inbox;            // from other chips, for this window or later
        std::vector<Arr> late;              // arrivals at its cores after the last window
        const In* inj = nullptr;            // the messages injected here, by id
        int64_t inj_pos = 0, inj_end = 0, next = NEVER;
        int64_t horizon = NEVER;            // nothing from another chip arrives before this
        int64_t sums[5] = {0, 0, 0, 0, 0};  // hops, ew, ns, chip hops, last arrival
        bool ready = false;
        void reset() {  // for the next call, keeping the memory
            pool.clear(); spare.clear(); wait.clear(); wait_links.clear(); inbox.clear(); late.clear();
            inj = nullptr; inj_pos = inj_end = 0; next = horizon = NEVER;
            for (int k = 0; k < 5; ++k) sums[k] = 0;
            ready = false;
        }
    };


    inline int64_t iabs(int64_t v) { return v < 0 ? -v : v; }

    inline int32_t alloc(Chip& C) {
        if (!C.spare.empty()) { int32_t s = C.spare.back(); C.spare.pop_back(); return s; }
        C.pool.emplace_back();
        return (int32_t)C.pool.size() - 1;
    }

    inline int32_t chip_dir(const Ev& g) {
        return g.cdx != 0 ? (g.cdx > 0 ? 0 : 1) : g.cdy != 0 ? (g.cdy > 0 ? 2 : 3) : (g.cdz > 0 ? 4 : 5);
    }

    // message in slot s, at its tile at time t: the tile link it takes next (rank), or -1
    // (delivered to its core, or handed to a chip link: it leaves the pool either way)
    inline int32_t next_rank(Chip& C, Scratch& S, const Params& P, int32_t s, int64_t t) {
        Ev& g = C.pool[s];
        if (g.x != g.tx) return P.rank_of[((int64_t)g.y * P.nx + g.x) * 4 + (g.x < g.tx ? 0 : 1)];
        if (g.y != g.ty) return P.rank_of[((int64_t)g.y * P.nx + g.x) * 4 + (g.y < g.ty ? 2 : 3)];
        if (g.phase == 0 && g.chip != g.dchip) {  // at the exit tile: to a chip link
            g.phase = 1;
            S.links.push_back(Move{t, g.id, chip_dir(g), g});
        } else {  // at the destination tile: to the core
            int64_t arrive = t + P.in_tile;
            S.arrivals.push_back(Arr{arrive, g.id, g.pos, g.nsyn, g.dcore});
            if (P.per_message) P.out[g.pos].arrive = arrive;
            if (arrive > C.sums[4]) C.sums[4] = arrive;
        }
        C.spare.push_back(s);
        return -1;
    }

    // a message leaving its core: its record, its path's hop counts in closed form, its first
    // tile link (see next_rank)
    inline int32_t inject_msg(Chip& C, Scratch& S, const Params& P, const In& in, int64_t me,
                              int64_t pos, int32_t& slot) {
        int32_t s = alloc(C);
        slot = s;
        Ev& g = C.pool[s];
        const int64_t sc = me, dc = in.dchip;
        g.id = in.id; g.pos = (int32_t)pos;
        g.chip = (int32_t)sc; g.dchip = (int32_t)dc; g.dcore = in.dcore; g.nsyn = in.nsyn;
        g.phase = 0;
        g.x = P.core_x[in.sl]; g.y = P.core_y[in.sl];
        g.dx = P.core_x[in.dl]; g.dy = P.core_y[in.dl];
        g.enx = 0; g.eny = 0;
        g.cdx = g.cdy = g.cdz = 0;
        int64_t ewh, nsh, ch;
        if (sc == dc) {
            g.tx = g.dx; g.ty = g.dy;
            ewh = iabs(g.dx - g.x); nsh = iabs(g.dy - g.y); ch = 0;
        } else {
            int64_t e0 = P.chip_x[dc] - P.chip_x[sc], e1 = P.chip_y[dc] - P.chip_y[sc];
            int64_t e2 = P.chip_z[dc] - P.chip_z[sc];
            g.cdx = (int16_t)e0; g.cdy = (int16_t)e1; g.cdz = (int16_t)e2;
            int first = e0 != 0 ? 0 : (e1 != 0 ? 1 : 2);
            int last = e2 != 0 ? 2 : (e1 != 0 ? 1 : 0);
            int64_t ex, ey;
            if (first == 0) { ex = e0 > 0 ? P.nx - 1 : 0; ey = g.y; }
            else if (first == 1) { ex = g.x; ey = e1 > 0 ? P.ny - 1 : 0; }
            else { ex = 0; ey = 0; }
            g.tx = (int8_t)ex; g.ty = (int8_t)ey;
            if (last == 0) { g.enx = (int8_t)(e0 > 0 ? 0 : P.nx - 1); g.eny = g.dy; }
            else if (last == 1) { g.enx = g.dx; g.eny = (int8_t)(e1 > 0 ? 0 : P.ny - 1); }
            ewh = iabs(ex - g.x) + iabs(g.dx - g.enx);
            nsh = iabs(ey - g.y) + iabs(g.dy - g.eny);
            ch = iabs(e0) + iabs(e1) + iabs(e2);
        }
        C.sums[0] += ewh + nsh + ch; C.sums[1] += ewh; C.sums[2] += nsh; C.sums[3] += ch;
        if (P.per_message) {
            Out& o = P.out[pos];
            o.ew = (int32_t)ewh; o.ns = (int32_t)nsh; o.chops = (int32_t)ch;
            o.hops = (int32_t)(ewh + nsh + ch);
        }
        return next_rank(C, S, P, s, in.inject);
    }

    // stable counting sort of items by rank into `out`; each rank's items then sorted in time
    void by_rank(Scratch& S, std::vector<RItem>& items, std::vector<RItem>& out, int64_t lo, int64_t hi) {
        out.resize(items.size());
        std::vector<int32_t>& c = S.count;
        c.assign(hi - lo + 1, 0);
        for (const RItem& r : items) c[r.rank - lo + 1]++;
        for (int64_t k = 0; k < hi - lo; ++k) c[k + 1] += c[k];
        for (const RItem& r : items) out[c[r.rank - lo]++] = r;
        int64_t b = 0;  // c[k] is now the end of rank lo + k
        for (int64_t k = 0; k < hi - lo; ++k) {
            if (c[k] - b > 1) merge_runs(out.data() + b, out.data() + c[k], S.rtmp, S.bounds);
            b = c[k];
        }
    }

    struct Span { const RItem* p; const RItem* e; };
    inline Span take(const std::vector<RItem>& v, size_t& at, int64_t r) {  // rank r's items
        Span s{v.data() + at, v.data() + at};
        while (at < v.size() && v[at].rank == r) ++at;
        s.e = v.data() + at;
        return s;
    }

    // each core of chip `me` handles its arrivals before `end` first come first served (later
    // windows' arrivals come at `end` or later); the others wait in C.late
    void serve_cores(Chip& C, Scratch& S, const Params& P, int64_t me, int64_t end) {
        std::vector<Arr>& a = S.arrivals;
        if (!C.late.empty()) {
            a.insert(a.end(), C.late.begin(), C.late.end());
            C.late.clear();
        }
        size_t keep = 0;
        for (size_t i = 0; i < a.size(); ++i) {
            if (a[i].when < end) a[keep++] = a[i];
            else C.late.push_back(a[i]);
        }
        a.resize(keep);
        if (a.empty()) return;
        std::vector<Arr>& g = S.arr_sorted;
        std::vector<int32_t>& c = S.count;
        c.assign(P.cpc + 1, 0);
        for (const Arr& r : a) c[r.core - me * P.cpc + 1]++;
        for (int64_t k = 0; k < P.cpc; ++k) c[k + 1] += c[k];
        g.resize(a.size());
        for (const Arr& r : a) g[c[r.core - me * P.cpc]++] = r;
        int32_t b = 0;
        for (int64_t k = 0; k < P.cpc; ++k) {  // c[k]: the end of core k's arrivals
            if (c[k] == b) continue;
            if (c[k] - b > 1) merge_runs(g.data() + b, g.data() + c[k], S.arr_tmp, S.bounds);
            int64_t* cf = &P.core_free[me * P.cpc + k];
            int64_t f = *cf;
            for (int32_t i = b; i < c[k]; ++i) {
                const Arr& r = g[i];
                f = (r.when > f ? r.when : f) + (int64_t)r.nsyn * P.syn_op;
                if (P.per_message) P.out[r.pos].done = f;
            }
            *cf = f;
            b = c[k];
        }
        a.clear();
    }

    // everything chip `me` does before time `end`; messages for other chips go to S.box
    void run_window(Chip& C, Scratch& S, const Params& P, int64_t me, int64_t end) {
        if (!C.ready) {
            C.free.assign(P.n_links, 0);
            C.load.assign(P.n_links, 0);
            C.ready = true;
        }
        S.start.clear(); S.turn_y.clear(); S.wait_next.clear(); S.arrivals.clear(); S.links.clear();
        int64_t wait_first = NEVER;
        // from other chips: on through a chip link of this chip, or into its tiles
        for (const Move& m : C.inbox) {
            if (m.ev.phase == 1) { S.links.push_back(m); continue; }
            int32_t s = alloc(C);
            C.pool[s] = m.ev;
            int32_t r = next_rank(C, S, P, s, m.when);
            if (r >= 0) S.start.push_back(RItem{Item{m.when, m.ev.id, s}, r, 0});
        }
        C.inbox.clear();
        while (C.inj_pos < C.inj_end && C.inj[C.inj_pos].inject < end) {
            const In& in = C.inj[C.inj_pos];
            int32_t s;
            int32_t r = inject_msg(C, S, P, in, me, C.inj - P.in + C.inj_pos, s);
            if (r >= 0) S.start.push_back(RItem{Item{in.inject, in.id, s}, r, 0});
            C.inj_pos++;
        }
        // tile links, in rank order
        const int64_t ranks = P.y_end;
        by_rank(S, S.start, S.sorted_start, 0, ranks);
        size_t at_start = 0, at_wait = 0, at_y = 0;
        bool y_sorted = false;
        S.carry.clear();
        // the next rank with work: r + 1 when items are carried on to it, else the lowest rank
        // holding items (the turning items are sorted once the Y ranks begin)
        auto next_busy = [&](int64_t r) -> int64_t {
            if (!S.carry.empty()) return r + 1;
            int64_t nxt = ranks;
            if (at_start < S.sorted_start.size()) nxt = std::min<int64_t>(nxt, S.sorted_start[at_start].rank);
            if (at_wait < C.wait.size()) nxt = std::min<int64_t>(nxt, C.wait[at_wait].rank);
            if (y_sorted) {
                if (at_y < S.sorted_y.size()) nxt = std::min<int64_t>(nxt, S.sorted_y[at_y].rank);
            } else if (!S.turn_y.empty()) {
                nxt = std::min<int64_t>(nxt, P.x_end);
            }
            return std::max<int64_t>(nxt, r + 1);
        };
        for (int64_t r = next_busy(-1); r < ranks; r = next_busy(r)) {
            if (r >= P.x_end && !y_sorted) {
                by_rank(S, S.turn_y, S.sorted_y, P.x_end, P.y_end);
                y_sorted = true;
            }
            Span a = take(S.sorted_start, at_start, r), w = take(C.wait, at_wait, r);
            Span t{nullptr, nullptr};
            if (y_sorted) t = take(S.sorted_y, at_y, r);
            if (S.carry.empty() && a.p == a.e && w.p == w.e && t.p == t.e) continue;
            // this link's input in (time, id) order: the items carried on along its chain
            // merged with those starting here, turning here and waiting from earlier windows
            std::vector<Item>& in = S.input;
            in.clear();
            in.swap(S.carry);  // (S.carry is refilled below, for the next rank)
            size_t runs = in.empty() ? 0 : 1, first_end = in.size();
            for (const Span* sp : {&w, &a, &t}) {
                if (sp->p == sp->e) continue;
                for (const RItem* q = sp->p; q != sp->e; ++q) in.push_back(q->it);
                if (++runs == 1) first_end = in.size();
            }
            if (runs == 2) {  // the common case: one merge into the spare buffer, which takes over
                S.tmp.resize(in.size());
                auto mid = in.begin() + first_end;
                std::merge(in.begin(), mid, mid, in.end(), S.tmp.begin(), Earlier());
                in.swap(S.tmp);
            } else if (runs > 2) {
                merge_runs(in.data(), in.data() + in.size(), S.tmp, S.bounds);
            }
            S.carry_next.clear();
            const int64_t link = P.link_of[r];
            const int64_t dir = link & 3;
            const int64_t lat = dir < 2 ? P.hop_ew : P.hop_ns, sv = P.serv;
            const bool feeds_next = r + 1 < ranks && P.chained[r + 1];
            int64_t free = C.free[link];
            size_t i = 0, n = in.size();
            for (; i < n && in[i].when < end; ++i) {
                const Item it = in[i];
                int64_t st = it.when > free ? it.when : free;
                free = st + sv;
                int64_t tt = free + lat;
                Ev& g = C.pool[it.slot];
                if (dir == 0) g.x++; else if (dir == 1) g.x--; else if (dir == 2) g.y++; else g.y--;
                int32_t nr = next_rank(C, S, P, it.slot, tt);
                if (nr < 0) continue;
                Item ni{tt, it.id, it.slot};
                if (nr == r + 1 && feeds_next) S.carry_next.push_back(ni);
                else S.turn_y.push_back(RItem{ni, nr, 0});
            }
            C.free[link] = free;
            C.load[link] += (int32_t)i;
            if (i < n && in[i].when < wait_first) wait_first = in[i].when;
            for (; i < n; ++i) S.wait_next.push_back(RItem{in[i], (int32_t)r, 0});  // a later window
            S.carry.swap(S.carry_next);
        }
        C.wait.assign(S.wait_next.begin(), S.wait_next.end());
        // chip links: messages leaving this chip, passing through it, and still waiting
        std::vector<Move>& L = S.links;
        L.insert(L.end(), C.wait_links.begin(), C.wait_links.end());
        C.wait_links.clear();
        if (!L.empty()) {
            // by direction (a stable counting sort), then in (time, id) order within each: L holds
            // a few sorted runs (each tile link's output, the previous window's waiting messages),
            // which merging sorts in near-linear time
            std::vector<MKey>& K = S.keys;
            K.resize(L.size());
            int32_t at_dir[7] = {0, 0, 0, 0, 0, 0, 0};
            for (const Move& m : L) at_dir[m.dir + 1]++;
            for (int k = 0; k < 6; ++k) at_dir[k + 1] += at_dir[k];
            const int32_t dir_end[6] = {at_dir[1], at_dir[2], at_dir[3], at_dir[4], at_dir[5], at_dir[6]};
            for (size_t k = 0; k < L.size(); ++k)
                K[at_dir[L[k].dir]++] = MKey{L[k].when, L[k].id, L[k].dir, (int32_t)k, 0};
            for (int k = 0, b = 0; k < 6; b = dir_end[k++])
                if (dir_end[k] - b > 1) merge_runs(K.data() + b, K.data() + dir_end[k], S.ktmp, S.bounds);
            int64_t dir = -1, link = 0, free = 0;
            for (const MKey& key : K) {
                const Move& m0 = L[key.at];
                if (m0.dir != dir) {
                    if (dir >= 0) C.free[link] = free;
                    dir = m0.dir;
                    link = P.n_tiles * 4 + dir;
                    free = C.free[link];
                }
                if (m0.when >= end) {  // a later window
                    C.wait_links.push_back(m0);
                    if (m0.when < wait_first) wait_first = m0.when;
                    continue;
                }
                Move m = m0;
                int64_t st = m.when > free ? m.when : free;
                free = st + P.cserv;
                m.when = free + P.chop;
                C.load[link]++;
                Ev& g = m.ev;
                const int32_t plane = P.mx * P.my;
                if (dir == 0) { g.chip += 1; g.cdx--; }
                else if (dir == 1) { g.chip -= 1; g.cdx++; }
                else if (dir == 2) { g.chip += P.mx; g.cdy--; }
                else if (dir == 3) { g.chip -= P.mx; g.cdy++; }
                else if (dir == 4) { g.chip += plane; g.cdz--; }
                else { g.chip -= plane; g.cdz++; }
                if (g.cdx == 0 && g.cdy == 0 && g.cdz == 0) {  // entering the destination chip
                    g.x = g.enx; g.y = g.eny; g.tx = g.dx; g.ty = g.dy; g.phase = 2;
                    m.dir = -1;
                } else {
                    m.dir = chip_dir(g);
                }
                (*S.box)[P.owner[g.chip]].push_back(m);
            }
            if (dir >= 0) C.free[link] = free;
        }
        serve_cores(C, S, P, me, end);
        int64_t next = C.inj_pos < C.inj_end ? C.inj[C.inj_pos].inject : NEVER;
        C.next = std::min(next, wait_first);
    }

    struct Memory {  // kept from call to call: no fresh pages (and their faults) every step
        std::vector<Chip> chip;
        std::vector<In> ins;
        std::vector<Out> outs;
        std::vector<Scratch> scratch;
        std::vector<std::vector<std::vector<Move>>> boxes;
    };

    int64_t simulate(Params& P, int64_t n, int64_t chips, int threads) {
        if (n == 0) return 0;
        static thread_local Memory M;
        // link ranks (see Params)
        P.n_links = P.n_tiles * 4 + 6;
        P.rank_of.assign(P.n_tiles * 4, -1);
        P.link_of.clear();
        P.chained.clear();
        auto add = [&](int64_t link, bool chained) {
            P.rank_of[link] = (int32_t)P.link_of.size();
            P.link_of.push_back((int32_t)link);
            P.chained.push_back(chained ? 1 : 0);
        };
        for (int64_t y = 0; y < P.ny; ++y) {
            for (int64_t x = 0; x + 1 < P.nx; ++x) add((y * P.nx + x) * 4 + 0, x > 0);
            for (int64_t x = P.nx - 1; x > 0; --x) add((y * P.nx + x) * 4 + 1, x < P.nx - 1);
        }
        P.x_end = (int64_t)P.link_of.size();
        for (int64_t x = 0; x < P.nx; ++x) {
            for (int64_t y = 0; y + 1 < P.ny; ++y) add((y * P.nx + x) * 4 + 2, y > 0);
            for (int64_t y = P.ny - 1; y > 0; --y) add((y * P.nx + x) * 4 + 3, y < P.ny - 1);
        }
        P.y_end = (int64_t)P.link_of.size();
        P.cpc_shift = -1;
        for (int k = 0; k < 31; ++k) if ((int64_t)1 << k == P.cpc) P.cpc_shift = k;
        P.chip_x.resize(chips); P.chip_y.resize(chips); P.chip_z.resize(chips);
        for (int64_t c = 0; c < chips; ++c) {
            P.chip_x[c] = (int16_t)(c % P.mx);
            P.chip_y[c] = (int16_t)((c / P.mx) % P.my);
            P.chip_z[c] = (int16_t)(c / (P.mx * P.my));
        }
        P.core_x.resize(P.cpc);
        P.core_y.resize(P.cpc);
        for (int64_t k = 0; k < P.cpc; ++k) {
            int64_t tile = k / P.cpt;
            P.core_x[k] = (int8_t)(tile % P.nx);
            P.core_y[k] = (int8_t)(tile / P.nx);
        }
        std::vector<Chip>& chip = M.chip;
        if ((int64_t)chip.size() < chips) chip.resize(chips);
        for (int64_t c = 0; c < chips; ++c) chip[c].reset();
        int nthreads = threads > 0 ? threads : 1;
        #ifndef _OPENMP
        nthreads = 1;
        #endif
        // the messages grouped by source chip (in id order within a chip), and the horizons; in
        // parallel (for many messages): each thread counts, then places, a contiguous range
        const int nth = n < 65536 ? 1 : nthreads;
        std::vector<int64_t> count(chips + 1, 0);
        std::vector<int64_t> tfill((size_t)nth * chips, 0);  // per thread and chip: where it places
        std::vector<int64_t> thz((size_t)nth * chips, NEVER);  // per thread and chip: its horizon
        std::vector<In>& ins = M.ins;
        std::vector<Out>& outs = M.outs;
        if ((int64_t)ins.size() < n) ins.resize(n);
        if (P.per_message && (int64_t)outs.size() < n) outs.resize(n);
        #ifdef _OPENMP
        #pragma omp parallel num_threads(nth) if (nth > 1)
        #endif
        {
            int tid = 0;
            #ifdef _OPENMP
            tid = omp_get_thread_num();
            #endif
            const int64_t lo = n * tid / nth, hi = n * (tid + 1) / nth;
            int64_t* fill = &tfill[(size_t)tid * chips];
            int64_t* hz = &thz[(size_t)tid * chips];
            for (int64_t m = lo; m < hi; ++m) fill[P.chip_of(P.s_core[m])]++;
            #ifdef _OPENMP
            #pragma omp barrier
            #pragma omp single
            #endif
            {
                int64_t run = 0;  // chip by chip, thread by thread: message order within a chip
                for (int64_t c = 0; c < chips; ++c) {
                    count[c] = run;
                    for (int k = 0; k < nth; ++k) {
                        int64_t v = tfill[(size_t)k * chips + c];
                        tfill[(size_t)k * chips + c] = run;
                        run += v;
                    }
                }
                count[chips] = run;
            }  // (the implicit barrier of `single`)
            for (int64_t m = lo; m < hi; ++m) {
                const int64_t sc = P.chip_of(P.s_core[m]), dc = P.chip_of(P.d_core[m]);
                In& in = ins[fill[sc]++];
                in.inject = P.inject[m]; in.id = (int32_t)m;
                in.dcore = (int32_t)P.d_core[m]; in.dchip = (int32_t)dc; in.nsyn = (int32_t)P.nsyn[m];
                in.sl = (int16_t)(P.s_core[m] - sc * P.cpc); in.dl = (int16_t)(P.d_core[m] - dc * P.cpc);
                if (sc == dc) continue;
                // the earliest a message can reach each chip on its way (every chip hop takes a
                // window at least): a chip runs ahead of the window while nothing can reach it
                int64_t c[3] = {P.chip_x[sc], P.chip_y[sc], P.chip_z[sc]};
                const int64_t d[3] = {P.chip_x[dc], P.chip_y[dc], P.chip_z[dc]};
                int64_t lb = P.inject[m];
                for (int dim = 0; dim < 3; ++dim) {
                    while (c[dim] != d[dim]) {
                        c[dim] += d[dim] > c[dim] ? 1 : -1;
                        lb += P.window;
                        int64_t& h = hz[c[0] + P.mx * (c[1] + P.my * c[2])];
                        if (lb < h) h = lb;
                    }
                }
            }
        }
        for (int k = 0; k < nth; ++k)
            for (int64_t c = 0; c < chips; ++c)
                chip[c].horizon = std::min(chip[c].horizon, thz[(size_t)k * chips + c]);
        P.in = ins.data();
        P.out = outs.data();
        int64_t t = NEVER;
        for (int64_t c = 0; c < chips; ++c) {
            Chip& C = chip[c];
            C.inj = ins.data() + count[c];
            C.inj_end = count[c + 1] - count[c];
            C.next = C.inj_end ? C.inj[0].inject : NEVER;
            t = std::min(t, C.next);
        }
        // each thread keeps the same chips (and their state in its cache): contiguous ranges
        // with equal numbers of injected messages
        std::vector<int64_t> first(nthreads + 1, chips);
        first[0] = 0;
        for (int k = 1, c = 0; k < nthreads; ++k) {
            while (c < chips && count[c] * nthreads < n * k) ++c;
            first[k] = c;
        }
        P.owner.assign(chips, 0);
        for (int k = 0; k < nthreads; ++k)
            for (int64_t c = first[k]; c < first[k + 1]; ++c) P.owner[c] = k;
        std::vector<Scratch>& scratch = M.scratch;
        std::vector<std::vector<std::vector<Move>>>& boxes = M.boxes;
        if ((int)scratch.size() < nthreads) scratch.resize(nthreads);
        if ((int)boxes.size() != nthreads) boxes.assign(nthreads, std::vector<std::vector<Move>>(nthreads));
        for (int k = 0; k < nthreads; ++k) scratch[k].box = &boxes[k];
        #ifdef _OPENMP
        #pragma omp parallel num_threads(nthreads) if (nthreads > 1)
        #endif
        {
            int tid = 0;
            #ifdef _OPENMP
            tid = omp_get_thread_num();
            #endif
            const int64_t lo = first[tid], hi = first[tid + 1];
            Scratch& S = scratch[tid];
            while (true) {
                if (t == NEVER) break;
                const int64_t end = t + P.window;
                for (int64_t c = lo; c < hi; ++c) {
                    // a chip runs to the window's end, or further while nothing can reach it
                    const int64_t e = std::max(end, chip[c].horizon);
                    if (chip[c].next < e) run_window(chip[c], S, P, c, e);
                }
                #ifdef _OPENMP
                #pragma omp barrier
                #endif
                for (int k = 0; k < nthreads; ++k) {  // what other threads' chips sent to ours
                    std::vector<Move>& box = boxes[k][tid];
                    for (const Move& m : box) {
                        Chip& C = chip[m.ev.chip];
                        C.inbox.push_back(m);
                        if (m.when < C.next) C.next = m.when;
                    }
                    box.clear();
                }
                #ifdef _OPENMP
                #pragma omp barrier
                #pragma omp single
                #endif
                {
                    t = NEVER;
                    for (int64_t c = 0; c < chips; ++c) t = std::min(t, chip[c].next);
                }  // (the implicit barrier of `single`)
            }
            for (int64_t c = lo; c < hi; ++c) {
                if (chip[c].late.empty()) continue;
                S.arrivals.clear();
                serve_cores(chip[c], S, P, c, NEVER);
            }
        }
        for (int64_t k = 0; k < 5; ++k) P.totals[k] = 0;
        for (int64_t c = 0; c < chips; ++c) {
            const Chip& C = chip[c];
            for (int64_t k = 0; k < 4; ++k) P.totals[k] += C.sums[k];
            P.totals[4] = std::max(P.totals[4], C.sums[4]);
            if (!C.ready) continue;
            for (int64_t k = 0; k < P.n_tiles * 4; ++k) {
                P.link_load[c * P.n_tiles * 4 + k] = C.load[k];
                P.link_free[c * P.n_tiles * 4 + k] = C.free[k];
            }
            for (int64_t k = 0; k < 6; ++k) {
                P.link_load[P.chip_link_base + c * 6 + k] = C.load[P.n_tiles * 4 + k];
                P.link_free[P.chip_link_base + c * 6 + k] = C.free[P.n_tiles * 4 + k];
            }
        }
        if (P.per_message) {
            for (int64_t p = 0; p < n; ++p) {
                const Out& o = outs[p];
                int64_t m = ins[p].id;
                P.arrive[m] = o.arrive; P.done[m] = o.done;
                P.hops[m] = o.hops; P.ew[m] = o.ew; P.ns[m] = o.ns; P.chops[m] = o.chops;
            }
        }
        return 0;
    }

    }  // namespace ncr
    '''
    cdef cppclass Params "ncr::Params":
        int64_t nx, ny, cpt, cpc, mx, my, mz, n_tiles, chip_link_base
        int64_t hop_ew, hop_ns, serv, chop, cserv, in_tile, syn_op, window
        const int64_t *s_core
        const int64_t *d_core
        const int64_t *nsyn
        const int64_t *inject
        int64_t *arrive
        int64_t *done
        int64_t *link_load
        int64_t *core_free
        int64_t *link_free
        int32_t *hops
        int32_t *ew
        int32_t *ns
        int32_t *chops
        int64_t *totals
        int per_message
    int64_t ncr_simulate "ncr::simulate"(Params& P, int64_t n, int64_t chips, int threads) except + nogil


cdef size_t ptr(object arr):
    return <size_t>arr.ctypes.data if arr.size else 0


def simulate(src, dst, nsyn_a, inject_a, board, costs, out, int threads=1, bint per_message=True):
    # Messages must come sorted by injection time: their order is the tie-break order (message id).
    # board: nx, ny, cores_per_tile, cores_per_chip, mesh (3 ints); costs: RouterCosts.as_dict();
    # out: link_load, link_free (per link), core_free (per board core, holding when each core is
    #      ready on entry), totals (5: hops, east-west hops, north-south hops, chip hops, last
    #      arrival) and, with per_message, arrive, done, hops, ew, ns, chip_hops (per message)
    cdef Params P
    cdef int64_t n = inject_a.size
    P.nx, P.ny, P.cpt, P.cpc = board["nx"], board["ny"], board["cores_per_tile"], board["cores_per_chip"]
    P.mx, P.my, P.mz = board["mesh"][0], board["mesh"][1], board["mesh"][2]
    P.n_tiles = P.nx * P.ny
    cdef int64_t chips = P.mx * P.my * P.mz
    P.chip_link_base = chips * P.n_tiles * 4
    P.hop_ew, P.hop_ns, P.serv = costs["hop_ew_ps"], costs["hop_ns_ps"], costs["link_service_ps"]
    P.chop, P.cserv = costs["chip_hop_ps"], costs["chip_link_service_ps"]
    P.in_tile, P.syn_op = costs["in_tile_ps"], costs["syn_op_ps"]
    if P.nx > 127 or P.ny > 127:
        raise ValueError("router kernel: at most 127 x 127 tiles per chip")
    if P.chop + P.cserv <= 0 or min(P.hop_ew, P.hop_ns, P.serv, P.cserv, P.in_tile, P.chop) < 0:
        raise ValueError("router kernel: delays must be non-negative and a chip hop must take time")
    # no message crosses to another chip faster than this: chips run windows this long alone
    P.window = P.chop + P.cserv
    P.per_message = per_message
    P.s_core = <const int64_t*>ptr(src)
    P.d_core = <const int64_t*>ptr(dst)
    P.nsyn = <const int64_t*>ptr(nsyn_a)
    P.inject = <const int64_t*>ptr(inject_a)
    P.link_load = <int64_t*>ptr(out["link_load"])
    P.link_free = <int64_t*>ptr(out["link_free"])
    P.core_free = <int64_t*>ptr(out["core_free"])
    P.totals = <int64_t*>ptr(out["totals"])
    if per_message:
        P.arrive = <int64_t*>ptr(out["arrive"])
        P.done = <int64_t*>ptr(out["done"])
        P.hops = <int32_t*>ptr(out["hops"])
        P.ew = <int32_t*>ptr(out["ew"])
        P.ns = <int32_t*>ptr(out["ns"])
        P.chops = <int32_t*>ptr(out["chip_hops"])
    cdef int64_t result
    with nogil:
        result = ncr_simulate(P, n, chips, threads)
    return result
"""


def threads() -> int:
    """Threads for the router kernel: ``NEUROCHIP_THREADS``, else every CPU."""
    value = os.environ.get("NEUROCHIP_THREADS")
    return max(1, int(value)) if value else max(1, os.cpu_count() or 1)


def compiled():
    from neurochip.native import compile_cython

    return compile_cython(SOURCE, "neurochip_router", openmp=True)
