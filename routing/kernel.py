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
chips are shared among OpenMP threads without locks), straight into the queue
of the chip link it goes on by if it passes through. A chip that no message
can reach before some time (its *horizon*: a lower bound from the messages'
dimension-order paths, each chip hop taking ``W``) runs ahead up to it.

Within a window a chip serves its tile links chain by chain: a chain is the
links of one row going east or west, or of one column going north or south. A
message takes at most one row chain and then one column chain, so serving all
row chains before the column chains serves every link after all links feeding
it, and each link sees its whole window's arrivals before it serves any.
Messages that arrive at a link at or after the window's end wait there for the
next window. Tile links are rarely busy (one service time is 0.29 ns, a hop
4-6.5 ns), so a chain is first served by a fast pass that assumes no message
waits: each takes every link at its own time. That is exact when, at every
link, no two messages come within one service time of each other and none
comes before the link is free from an earlier window; all messages of a chain
move at the same speed, so two that share a link keep their time difference on
every link they share, and the check is made once per pair, in vector
registers. If it fails, the messages are served one after the other in (time,
message id) order, each over all of its links, first come first served; that
is exact as long as every link sees its messages in the order they arrive,
which is checked at each link. Only if a message that waited is overtaken does
the chain get served link by link, merging each link's arrivals in (time, id)
order - the first-come-first-served order a global event queue would give.
A message carries what its path needs (destination chip and core, the tile it
heads for), so a hop reads no per-message table.

Cores serve their arrivals after the last window, each in (time, id) order:
nothing a core does feeds back into the network. Without per-message results
only each core's finish time is wanted: an arrival no later than the core's
ready time finds it busy whatever the order, so such arrivals' work is summed as
they come, and only later arrivals are kept, sorted and served. Before the windows, one
parallel pass plans every message (its target tile, first chain and hop counts,
in closed form) into a stream, in time order, for the thread that runs its
source chip; each window, a thread hands its chips the messages that leave
their cores in it, so they are in the cache when the chip runs.
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
    #include <chrono>
    #include <cstdint>
    #include <cstdlib>
    #include <limits>
    #include <vector>
    #ifdef _OPENMP
    #include <omp.h>
    #endif

    namespace ncr {

    const int64_t NEVER = std::numeric_limits<int64_t>::max();

    // where a call's time goes, per thread (ns): compiled in only with NCR_PROFILE (see
    // benchmarks/router_phases.py), else the timers are no code at all
    enum Phase { PH_PLAN, PH_ENTER, PH_CHAINS, PH_CHIP_LINKS, PH_SCAN, PH_BARRIER, PH_DRAIN, PH_CORES, PH_N };
    #ifdef NCR_PROFILE
    static thread_local int64_t phase_ns[PH_N];
    inline int64_t now_ns() {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::steady_clock::now().time_since_epoch()).count();
    }
    #define NCR_TICK(v) const int64_t v = ncr::now_ns()
    #define NCR_PHASE(k, a, b) (ncr::phase_ns[k] += (b) - (a))
    #else
    #define NCR_TICK(v)
    #define NCR_PHASE(k, a, b)
    #endif
    const uint16_t EXIT = 1 << 14;          // in a target tile: the border tile toward a chip link

    // a message on its way. In a chain (or waiting at one of its links for a later window),
    // `chip` is its chain tag (see chain_tag) and `when` its time at the chain's link 0 without
    // queueing; at a chip link, `when` is its time there; crossing to another chip, `chip` is
    // that chip and `tgt` the direction of the hop
    struct Item {
        int64_t when;
        int32_t id, dchip, nsyn, chip;
        int32_t from;                        // the chip it leaves from (read once, when it leaves)
        int16_t dl;                          // the destination core on its chip
        uint16_t tgt;                        // the tile it heads for on this chip (x, y in 7 bits
                                             // each, EXIT when it leaves the chip there)
    };
    const int64_t MANY = 65535;             // in an arrival: at least this many synaptic events
    // a message reaching its core (nsyn: its synaptic events, or MANY: look them up)
    struct Arr { int64_t when; int32_t id; uint16_t core, nsyn; };

    template <class T> inline bool earlier(const T& a, const T& b) {
        return a.when < b.when || (a.when == b.when && a.id < b.id);
    }
    struct Earlier {
        template <class T> bool operator()(const T& a, const T& b) const { return earlier(a, b); }
    };

    // sort [first, last) by (time, id) by insertion while that takes at most `moves` moves;
    // false (left in some other order) if not
    template <class T> inline bool insertion_sort(T* first, T* last, int64_t moves) {
        for (T* i = first + 1; i < last; ++i) {
            if (!earlier(*i, i[-1])) continue;
            T v = *i;
            T* j = i;
            do { *j = j[-1]; --j; } while (j > first && earlier(v, j[-1]));
            *j = v;
            if ((moves -= i - j) < 0) return false;
        }
        return true;
    }
    // sort [first, last) by (time, id): by insertion when short (it holds a few sorted runs)
    template <class T> inline void sort_items(T* first, T* last) {
        if (last - first > 32) std::sort(first, last, Earlier());
        else insertion_sort(first, last, NEVER);
    }

    // sort [a, a + n) by (time, id): link and core inputs come as a few sorted runs (one per link
    // feeding them) that overlap little, so by insertion if that takes O(n) moves, else by
    // merging the runs; tmp and run: scratch
    template <class T> void merge_runs(T* a, int64_t n, std::vector<T>& tmp, std::vector<int64_t>& run) {
        if (insertion_sort(a, a + n, 8 * n + 64)) return;
        run.clear();
        run.push_back(0);
        for (int64_t i = 1; i < n; ++i) if (earlier(a[i], a[i - 1])) run.push_back(i);
        if (run.size() == 1) return;
        run.push_back(n);
        if ((int64_t)tmp.size() < n) tmp.resize(n);
        T* from = a;
        T* to = tmp.data();
        while (run.size() > 2) {  // merge runs pairwise
            size_t w = 0;
            for (size_t k = 0; k + 1 < run.size(); k += 2) {
                const int64_t lo = run[k], mid = run[k + 1], hi = k + 2 < run.size() ? run[k + 2] : mid;
                std::merge(from + lo, from + mid, from + mid, from + hi, to + lo, Earlier());
                run[w++] = lo;
            }
            run[w++] = n;
            run.resize(w);
            std::swap(from, to);
        }
        if (from != a) std::copy(from, from + n, a);
    }

    // a chain: the tile links of one row going east or west, or of one column going north or
    // south, numbered k = 0, 1, ... along the direction of travel (link k leads from the chain's
    // k-th tile to the next one). Its links' state, in a chip's: when each is free again (at
    // base + k) and how many messages it served (at base + width + k). h: one hop without
    // queueing (service and latency)
    struct Chain { int32_t base, width, len; int64_t lat, h; };
    typedef int64_t v8 __attribute__((vector_size(64)));  // a chain of up to 8 links
    typedef int32_t v8i __attribute__((vector_size(32)));  // the same in 32-bit lanes
    typedef uint32_t uv8i __attribute__((vector_size(32)));
    struct Leg { int32_t tag; uint16_t tgt; uint8_t ew, ns; };  // see leg()

    // the chip link (+x, -x, +y, -y, +z, -z: 0 .. 5) of the first of chip hops e0, e1, e2 to go in
    // x, y and z, not all 0: dimension order, x first
    inline int32_t first_hop(int64_t e0, int64_t e1, int64_t e2) {
        return e0 ? (e0 < 0) : e1 ? 2 + (e1 < 0) : 4 + (e2 < 0);
    }

    struct Params {
        int64_t nx, ny, cpt, cpc, mx, my, mz, n_tiles, chip_link_base;
        int64_t hop_ew, hop_ns, serv, chop, cserv, in_tile, syn_op, window;
        const int64_t *s_core, *d_core, *nsyn, *inject;
        int64_t *arrive, *done, *link_load, *core_free, *link_free;
        int32_t *hops, *ew, *ns, *chops;
        int64_t *totals;    // hops, ew, ns, chip hops, last arrival, synaptic events
        int per_message;    // write arrive, done, hops, ew, ns, chip hops per message
        int64_t* early;     // without per_message: per core, the work of the arrivals that come
                            // no later than it is ready (see reached)
        int64_t* phases;    // with NCR_PROFILE: per thread, ns per Phase (or null)
        // chains 0 .. 2 ny - 1: row y east (2 y) and west (2 y + 1); then column x north
        // (2 ny + 2 x) and south (2 ny + 2 x + 1). A message takes at most one X chain, then
        // at most one Y chain, so serving the chains in this order serves every link after all
        // of the links feeding it.
        int64_t chains;
        std::vector<Chain> chain;
        int64_t* lk;                        // per chip: its chains' link state, then its chip
        int64_t lk_per_chip, clink;         // links' (free at clink + d, load at clink + 6 + d)
        std::vector<int8_t> core_x, core_y; // per core of a chip: its tile
        std::vector<int16_t> core_tile;
        bool tables;                        // chips of at most 64 tiles: legs from tables, per
        std::vector<Leg> local, leave, enter;  // (tile, tile), (tile, direction) x 2
        std::vector<int16_t> chip_x, chip_y, chip_z;  // per chip: where it is on the board
        std::vector<int32_t> owner;         // per chip: the thread that runs it
        int64_t step[6];                    // chip number change of a chip hop, per direction
        int cpc_shift;                      // cores per chip = 2**cpc_shift, or -1
        inline int64_t chip_of(int64_t core) const { return cpc_shift >= 0 ? core >> cpc_shift : core / cpc; }
        // the chip link a message on chip c takes toward another chip d
        inline int32_t chip_dir(int64_t c, int64_t d) const {
            return first_hop(chip_x[d] - chip_x[c], chip_y[d] - chip_y[c], chip_z[d] - chip_z[c]);
        }
    };

    // the bounds a planning thread set on the chips along one chip's links in one direction: all
    // chips up to `reach` hops away have a horizon of at most `when` + hops * window
    struct Stretch {
        int64_t when = NEVER;
        int64_t reach = 0;
        // a message at chip `at` at time t (at the earliest) going `hops` chip hops in direction d:
        // the horizons of the chips it passes. Beyond the reach, and all of them if it comes
        // earlier, with the earlier of its time and `when` (a lower bound: a horizon need not be
        // the latest possible)
        inline void bound(const Params& P, int64_t* hz, int64_t at, int64_t d, int64_t hops, int64_t t) {
            if (t >= when && hops <= reach) return;
            const int64_t from = t < when ? 1 : reach + 1, to = std::max(hops, reach);
            if (t < when) when = t;
            reach = to;
            int64_t c = at + from * P.step[d], lb = when + from * P.window;
            for (int64_t k = from; k <= to; ++k, c += P.step[d], lb += P.window)
                if (lb < hz[c]) hz[c] = lb;
        }
    };

    struct Scratch {                        // a thread's working space, whichever chip it runs
        std::vector<std::vector<Item>> q;   // per chain: the messages entering it
        std::vector<uint64_t> busy;         // per chain: a bit when its queue has items
        std::vector<int64_t> snap;          // a chain's link state before its fast pass
        std::vector<int32_t> stop;          // per message of a chain: where a pass left it,
        std::vector<int64_t> at, last;      // and when; per link: the last arrival
        std::vector<Item> cur, nxt;         // the exact pass: messages at a link, and at the next
        std::vector<Item> tmp;              // sorting
        std::vector<Arr> arr_tmp;
        std::vector<int64_t> run;
        std::vector<Arr> arr_sorted;
        std::vector<int32_t> count;
        std::vector<std::vector<Item>>* box;  // messages for other chips, per receiving thread
        // a copy of x into chain c's queue (its fields set there: building a message on the
        // stack and copying it whole would stall on store forwarding)
        inline Item& put(int64_t c, const Item& x) {
            q[c].push_back(x);
            busy[c >> 6] |= (uint64_t)1 << (c & 63);
            return q[c].back();
        }
        inline int64_t next_busy(int64_t from) const {  // the lowest busy chain >= from
            const int64_t nw = (int64_t)busy.size();
            int64_t k = from >> 6;
            if (k >= nw) return NEVER;
            uint64_t b = busy[k] & (~(uint64_t)0 << (from & 63));
            while (!b) {
                if (++k >= nw) return NEVER;
                b = busy[k];
            }
            return (k << 6) + __builtin_ctzll(b);
        }
    };

    struct Chip {
        std::vector<Item> wait;             // at tile links beyond the last window
        std::vector<Item> link[6];          // at its chip links, this window or later (in any order:
                                            // each window sorts them)
        std::vector<Item> inbox;            // from other chips, for its tiles, this window or later
        std::vector<Arr> arr;               // arrivals at its cores, served at the end
        std::vector<Item> pend;             // messages leaving its cores, from pend[pr] on (`when`:
        size_t pr = 0;                      // their injection time, `chip`: their first chain or -1)
        int64_t next = NEVER;               // nothing happens here before this
        int64_t horizon = NEVER;            // nothing from another chip arrives before this
        int64_t last = 0;                   // the last arrival at a core
        void reset() {  // for the next call, keeping the memory
            wait.clear(); inbox.clear(); arr.clear();
            for (int d = 0; d < 6; ++d) link[d].clear();
            pend.clear(); pr = 0; next = horizon = NEVER;
            last = 0;
        }
    };

    inline int64_t iabs(int64_t v) { return v < 0 ? -v : v; }
    inline uint16_t pack(int64_t x, int64_t y, bool exit) {
        return (uint16_t)(x | (y << 7) | (exit ? EXIT : 0));
    }
    // a message in a chain: `when` is its time at the chain's link 0 had it travelled the whole
    // chain without queueing (its time at link k is when + k h); `chip` holds the chain, the
    // link it enters at (k0) and the one it leaves after (k1 - 1)
    inline int32_t chain_tag(int64_t c, int64_t k0, int64_t k1) {
        return (int32_t)(k0 | (k1 << 8) | (c << 16));
    }
    inline int64_t tag_k0(int32_t t) { return t & 255; }
    inline int64_t tag_k1(int32_t t) { return (t >> 8) & 255; }
    inline int64_t tag_chain(int32_t t) { return t >> 16; }

    // the chain a message at tile (x, y) heading for (tx, ty) takes next, as a tag (-1: none):
    // along its row (east or west) while it has x hops left, then along its column
    inline int32_t next_chain(const Params& P, int64_t x, int64_t y, int64_t tx, int64_t ty) {
        const bool hx = x != tx;
        if (!hx && y == ty) return -1;
        const int64_t a = hx ? x : y, b = hx ? tx : ty, len = hx ? P.nx - 1 : P.ny - 1;
        const bool back = b < a;
        const int64_t c = (hx ? 2 * y : 2 * P.ny + 2 * x) + back;
        return chain_tag(c, back ? len - a : a, back ? len - b : b);
    }

    // message `it` at its target tile `tgt` on chip `me` at time t: into a chip link, or to its core
    inline void reached(Chip& C, const Params& P, int64_t me, const Item& it, uint16_t tgt, int64_t t) {
        if (tgt & EXIT) {
            std::vector<Item>& q = C.link[P.chip_dir(me, it.dchip)];
            q.push_back(it);
            q.back().when = t;
            return;
        }
        const int64_t arrive = t + P.in_tile;
        if (arrive > C.last) C.last = arrive;
        if (P.per_message) {
            P.arrive[it.id] = arrive;
        } else {
            // a core ready at r serves its arrivals first come first served: f = max(arrival, f)
            // + work, from f = r. Arrivals at r or before all find it busy (f >= r), so only
            // their work counts, in any order: it is summed here, and only later arrivals are
            // kept and served in (time, id) order, from r plus that sum
            const int64_t k = me * P.cpc + it.dl;
            if (arrive <= P.core_free[k]) {
                P.early[k] += (int64_t)it.nsyn * P.syn_op;
                return;
            }
        }
        C.arr.emplace_back();
        Arr& a = C.arr.back();
        a.when = arrive; a.id = it.id; a.core = (uint16_t)it.dl;
        a.nsyn = (uint16_t)((uint32_t)it.nsyn < MANY ? it.nsyn : MANY);
    }

    // message `it` at time t into the chain `tag` (-1: none, it is at its target tile `tgt`)
    inline void go(Chip& C, Scratch& S, const Params& P, int64_t me, const Item& it, int32_t tag,
                   uint16_t tgt, int64_t t) {
        if (tag < 0) {
            reached(C, P, me, it, tgt, t);
            return;
        }
        const int64_t c = tag_chain(tag);
        Item& d = S.put(c, it);
        d.when = t - tag_k0(tag) * P.chain[c].h;
        d.chip = tag;
        d.tgt = tgt;
    }

    // a stretch of a path on one chip, from tile (x, y) to tile (tx, ty): its first chain, its
    // target (with `exit`: the chip link it leaves by there) and its east-west and north-south hops
    inline Leg leg(const Params& P, int64_t x, int64_t y, int64_t tx, int64_t ty, bool exit) {
        return Leg{next_chain(P, x, y, tx, ty), pack(tx, ty, exit), (uint8_t)iabs(tx - x),
                   (uint8_t)iabs(ty - y)};
    }
    // the stretch from tile (x, y) to the chip link toward direction d: to the border tile facing
    // it, in the tile's row (x hops) or column (y hops); to (0, 0) for z hops
    inline Leg leaving(const Params& P, int64_t d, int64_t x, int64_t y) {
        if (d < 2) return leg(P, x, y, d == 0 ? P.nx - 1 : 0, y, true);
        if (d < 4) return leg(P, x, y, x, d == 2 ? P.ny - 1 : 0, true);
        return leg(P, x, y, 0, 0, true);
    }
    // the stretch from the chip link a message came in by (after a hop in direction d) to tile
    // (x, y): from the border facing where it came from, in the tile's row or column; from
    // (0, 0) after a z hop
    inline Leg entering(const Params& P, int64_t d, int64_t x, int64_t y) {
        if (d < 2) return leg(P, d == 0 ? 0 : P.nx - 1, y, x, y, false);
        if (d < 4) return leg(P, x, d == 2 ? 0 : P.ny - 1, x, y, false);
        return leg(P, 0, 0, x, y, false);
    }
    inline Leg leaving_core(const Params& P, int64_t d, int64_t core) {
        return P.tables ? P.leave[P.core_tile[core] * 6 + d] : leaving(P, d, P.core_x[core], P.core_y[core]);
    }
    inline Leg entering_core(const Params& P, int64_t d, int64_t core) {
        return P.tables ? P.enter[P.core_tile[core] * 6 + d] : entering(P, d, P.core_x[core], P.core_y[core]);
    }

    // a message from core sl of its chip to core dl of the same chip (`local`) or of the chip e
    // (chip hops in x, y, z) away, planned: its target tile on its chip (its destination tile, or
    // the border tile toward its first chip hop), its first chain, and its path's east-west,
    // north-south and chip hops in closed form
    inline void plan(const Params& P, bool local, const int64_t* e, int64_t sl, int64_t dl, Item& o,
                     int64_t* hops) {
        Leg a, b{0, 0, 0, 0};
        int64_t ch = 0;
        if (local) {
            a = P.tables ? P.local[P.core_tile[sl] * P.n_tiles + P.core_tile[dl]]
                         : leg(P, P.core_x[sl], P.core_y[sl], P.core_x[dl], P.core_y[dl], false);
        } else {
            const int64_t e0 = e[0], e1 = e[1], e2 = e[2];
            const int64_t first = first_hop(e0, e1, e2);
            const int64_t last = e2 ? 4 + (e2 < 0) : e1 ? 2 + (e1 < 0) : (e0 < 0);
            a = leaving_core(P, first, sl);
            b = entering_core(P, last, dl);
            ch = iabs(e0) + iabs(e1) + iabs(e2);
        }
        o.tgt = a.tgt;
        o.chip = a.tag;
        hops[0] = a.ew + b.ew; hops[1] = a.ns + b.ns; hops[2] = ch;
    }

    // a message handed over to chip `me` after crossing a chip link: straight into the queue of
    // the chip link it goes on by, or into the inbox for the tiles
    inline void hand_over(Chip& C, const Params& P, int64_t me, const Item& it) {
        if (it.dchip != me) C.link[P.chip_dir(me, it.dchip)].push_back(it);
        else C.inbox.push_back(it);
        if (it.when < C.next) C.next = it.when;
    }

    // a message from the inbox into the tiles (`tgt`: the direction it came in)
    inline void enter(Chip& C, Scratch& S, const Params& P, int64_t me, const Item& it) {
        const Leg b = entering_core(P, it.tgt, it.dl);
        go(C, S, P, me, it, b.tag, b.tgt, it.when);
    }

    // where a message leaving chain c after its link k1 - 1 is: on (row, tx) after an X chain
    inline void leave_chain(Chip& C, Scratch& S, const Params& P, int64_t me, const Item& it,
                            int64_t c, int64_t t) {
        const int64_t tx = it.tgt & 127, ty = (it.tgt >> 7) & 127;
        if (c < 2 * P.ny) go(C, S, P, me, it, next_chain(P, tx, c >> 1, tx, ty), it.tgt, t);
        else reached(C, P, me, it, it.tgt, t);
    }

    // the fast pass over a chain of at most 8 links with at most 16 messages, in any order:
    // no message waits for another if none comes to a link before it is free from an earlier
    // window, and no two on a common link come within one service time of each other. In 32-bit
    // lanes, times relative to the first message's (the pass gives up on one 2**29 ps away)
    inline bool fast_small(Item* it, int64_t n, int32_t* stop, const Chain& K, int64_t* F,
                           int64_t sv, int64_t end) {
        const int64_t h = K.h, base = it[0].when, LIM = (int64_t)1 << 29;
        if (sv >= LIM || h >= ((int64_t)1 << 25)) return false;
        const v8i iota = {0, 1, 2, 3, 4, 5, 6, 7}, lane = {1, 2, 4, 8, 16, 32, 64, 128};
        const v8i zero = iota - iota, ih = iota * (int32_t)h;
        const int32_t s32 = (int32_t)sv;
        const uv8i near = (uv8i)(zero + (2 * s32 - 1));
        v8 f0;
        __builtin_memcpy(&f0, F, sizeof(v8));
        v8 fc = f0 - base;
        fc = fc < -2 * LIM ? -2 * LIM : fc;
        fc = fc > 2 * LIM ? 2 * LIM : fc;
        const v8i f0r = __builtin_convertvector(fc, v8i);  // the links' free times (clamped)
        v8i first = zero + INT32_MAX, last = f0r - s32;  // per link: the earliest and latest time
        v8i cnt = zero, used = zero;                      // there, its messages, whether any
        v8i tau0 = zero, tau1 = zero, msk0 = zero, msk1 = zero;  // per message: its time, links
        v8i bad = zero;
        for (int64_t i = 0; i < n; ++i) {
            const int64_t t0 = it[i].when, k0 = tag_k0(it[i].chip), k1 = tag_k1(it[i].chip);
            int64_t s = k1;
            if (t0 + (k1 - 1) * h >= end) {  // stops at the window's end
                s = k0;
                while (s < k1 && t0 + s * h < end) ++s;
            }
            stop[i] = (int32_t)s;
            const int32_t bits = (int32_t)(((int64_t)1 << s) - ((int64_t)1 << k0));
            const int64_t r = t0 - base;
            if (bits && (r >= LIM || r <= -LIM)) return false;
            const int32_t r32 = (int32_t)r;
            const v8i on = (lane & bits) != 0, t = r32 + ih;
            first = on ? (t < first ? t : first) : first;
            last = on ? (t > last ? t : last) : last;
            cnt -= on;
            used |= on;
            // against the messages before it: on a common link within one service time
            // (|d| < sv as one unsigned comparison)
            bad |= ((msk0 & bits) != 0) & ((uv8i)(tau0 - r32 + (s32 - 1)) < near);
            if (i > 8) bad |= ((msk1 & bits) != 0) & ((uv8i)(tau1 - r32 + (s32 - 1)) < near);
            const v8i at = lane == (1 << (i & 7));  // its lane
            if (i < 8) {
                tau0 = at ? r32 : tau0;
                msk0 = at ? bits : msk0;
            } else {
                tau1 = at ? r32 : tau1;
                msk1 = at ? bits : msk1;
            }
        }
        bad |= first < f0r;
        int32_t any = 0;
        for (int k = 0; k < 8; ++k) any |= bad[k];
        if (any) return false;
        const v8 nf = __builtin_convertvector(last, v8) + (base + sv);
        const v8 u = __builtin_convertvector(used, v8);
        const v8 fn = u != 0 ? nf : f0;
        v8 ld;
        __builtin_memcpy(&ld, F + K.width, sizeof(v8));
        ld += __builtin_convertvector(cnt, v8);
        __builtin_memcpy(F, &fn, sizeof(v8));
        __builtin_memcpy(F + K.width, &ld, sizeof(v8));
        return true;
    }

    // the messages of a chain one after the other in (time, id) order, each over all its links:
    // first come first served (a message waits while a link is busy) as long as every link
    // sees its messages in the order they arrive - which fails only when a message that
    // waited is overtaken, at a later link, by one that came after it. Then the links are put
    // back and it returns false. stop, at: where each message stopped (its last link + 1, or
    // the link it waits at for the next window) and when it got there.
    inline bool in_order(Scratch& S, Item* it, int64_t n, int32_t* stop, int64_t* at, const Chain& K,
                         int64_t* F, int64_t sv, int64_t end) {
        sort_items(it, it + n);
        int64_t* D = F + K.width;
        S.snap.assign(F, F + 2 * K.width);
        S.last.assign(2 * K.len, std::numeric_limits<int64_t>::min());  // per link: the last arrival, id
        int64_t* last = S.last.data();
        const int64_t h = K.h, lat = K.lat;
        for (int64_t i = 0; i < n; ++i) {
            const int64_t k0 = tag_k0(it[i].chip), k1 = tag_k1(it[i].chip), id = it[i].id;
            int64_t t = it[i].when + k0 * h, k = k0;
            for (; k < k1 && t < end; ++k) {
                if (t < last[2 * k] || (t == last[2 * k] && id < last[2 * k + 1])) {
                    std::copy(S.snap.begin(), S.snap.end(), F);
                    return false;
                }
                last[2 * k] = t;
                last[2 * k + 1] = id;
                F[k] = (t > F[k] ? t : F[k]) + sv;
                D[k]++;
                t = F[k] + lat;
            }
            stop[i] = (int32_t)k;
            at[i] = t;
        }
        return true;
    }

    // chain c's messages of this window (before `end`) on chip `me`. Tile links are rarely busy,
    // so first a fast pass assumes no message waits for another: each takes every link at its
    // time without queueing, which holds if none comes to a link within one service time of
    // another or before the link is free from an earlier window. If that fails, the messages go
    // one after the other in (time, id) order (in_order); if a message is overtaken there, the
    // chain is served link by link.
    void serve_chain(Chip& C, Scratch& S, const Params& P, int64_t me, int64_t c, int64_t end, int64_t* lk) {
        std::vector<Item>& Q = S.q[c];
        Item* it = Q.data();
        const int64_t n = (int64_t)Q.size();
        const Chain K = P.chain[c];
        int64_t* F = lk + K.base;
        int64_t* D = F + K.width;
        const int64_t h = K.h, sv = P.serv;
        if ((int64_t)S.stop.size() < n) {
            S.stop.resize(n);
            S.at.resize(n);
        }
        int32_t* stop = S.stop.data();
        int64_t* at = S.at.data();
        bool ok = K.len <= 8 && n <= 16 && fast_small(it, n, stop, K, F, sv, end);
        if (ok) {
            for (int64_t i = 0; i < n; ++i) at[i] = it[i].when + stop[i] * h;
        } else {
            ok = in_order(S, it, n, stop, at, K, F, sv, end);
        }
        if (ok) {
            for (int64_t i = 0; i < n; ++i) {
                const int64_t k = stop[i];
                if (k < tag_k1(it[i].chip)) {  // at link k at or after the window's end
                    C.wait.push_back(it[i]);
                    Item& w = C.wait.back();
                    w.chip = chain_tag(c, k, tag_k1(it[i].chip));
                    w.when = at[i] - k * h;
                } else {
                    leave_chain(C, S, P, me, it[i], c, at[i]);
                }
            }
            Q.clear();
            return;
        }
        // exact: link by link, the messages arriving from the previous link (in time order, as
        // a link's departures are) merged with those entering at this one
        std::sort(it, it + n, [](const Item& a, const Item& b) {
            const int64_t ka = tag_k0(a.chip), kb = tag_k0(b.chip);
            return ka < kb || (ka == kb && earlier(a, b));
        });
        std::vector<Item>& cur = S.cur;
        std::vector<Item>& nxt = S.nxt;
        cur.clear();
        int64_t j = 0;
        for (int64_t k = 0; k < K.len; ++k) {
            if (cur.empty()) {
                if (j == n) break;
                if (tag_k0(it[j].chip) > k) k = tag_k0(it[j].chip);
            }
            int64_t j1 = j;
            while (j1 < n && tag_k0(it[j1].chip) == k) {
                it[j1].when += k * h;  // its time at link k
                ++j1;
            }
            int64_t free = F[k], served = 0;
            size_t a = 0;
            nxt.clear();
            while (a < cur.size() || j < j1) {
                Item m;
                if (j == j1 || (a < cur.size() && earlier(cur[a], it[j]))) m = cur[a++];
                else m = it[j++];
                if (m.when >= end) {  // waits at link k
                    const int64_t k1 = tag_k1(m.chip);
                    m.chip = chain_tag(c, k, k1);
                    m.when -= k * h;
                    C.wait.push_back(m);
                    continue;
                }
                const int64_t st = m.when > free ? m.when : free;
                free = st + sv;
                served++;
                const int64_t t = free + K.lat;
                if (k + 1 == tag_k1(m.chip)) leave_chain(C, S, P, me, m, c, t);
                else { m.when = t; nxt.push_back(m); }
            }
            F[k] = free;
            D[k] += served;
            cur.swap(nxt);
        }
        Q.clear();
    }

    // everything chip `me` does before time `end` but serve its cores; messages for other chips
    // go to S.box
    void run_window(Chip& C, Scratch& S, const Params& P, int64_t me, int64_t end) {
        NCR_TICK(t0);
        int64_t wait_first = NEVER;
        for (const Item& w : C.wait) S.put(tag_chain(w.chip), w);
        C.wait.clear();
        for (const Item& m : C.inbox) enter(C, S, P, me, m);
        C.inbox.clear();
        const Item* const inj = C.pend.data();
        const size_t inj_end = C.pend.size();
        size_t p = C.pr;
        for (; p < inj_end && inj[p].when < end; ++p)  // messages leaving their cores
            go(C, S, P, me, inj[p], inj[p].chip, inj[p].tgt, inj[p].when);
        if (p == inj_end) {
            C.pend.clear();
            p = 0;
        }
        C.pr = p;
        NCR_TICK(t1);
        NCR_PHASE(PH_ENTER, t0, t1);
        // tile links, chain by chain (X chains feed Y chains)
        int64_t* const lk = P.lk + me * P.lk_per_chip;
        for (int64_t c = S.next_busy(0); c < P.chains; c = S.next_busy(c + 1)) {
            S.busy[c >> 6] &= ~((uint64_t)1 << (c & 63));
            serve_chain(C, S, P, me, c, end, lk);
        }
        for (const Item& w : C.wait) {
            const int64_t t = w.when + tag_k0(w.chip) * P.chain[tag_chain(w.chip)].h;
            if (t < wait_first) wait_first = t;
        }
        NCR_TICK(t2);
        NCR_PHASE(PH_CHAINS, t1, t2);
        // chip links: messages leaving this chip, passing through it, and still waiting
        for (int d = 0; d < 6; ++d) {
            std::vector<Item>& Q = C.link[d];
            const size_t n = Q.size();
            if (n == 0) continue;
            Item* it = Q.data();
            merge_runs(it, (int64_t)n, S.tmp, S.run);
            int64_t* const lf = lk + P.clink + d;  // free; load 6 further
            const int64_t nc = me + P.step[d];
            std::vector<Item>& box = (*S.box)[P.owner[nc]];
            int64_t free = *lf;
            size_t i = 0;
            for (; i < n && it[i].when < end; ++i) {
                const int64_t st = it[i].when > free ? it[i].when : free;
                free = st + P.cserv;
                box.push_back(it[i]);
                Item& m = box.back();
                m.when = free + P.chop; m.chip = (int32_t)nc; m.tgt = (uint16_t)d;
            }
            *lf = free;
            lf[6] += (int64_t)i;
            if (i < n && it[i].when < wait_first) wait_first = it[i].when;
            Q.erase(Q.begin(), Q.begin() + i);
        }
        const int64_t next = C.pr < C.pend.size() ? C.pend[C.pr].when : NEVER;
        C.next = std::min(next, wait_first);
        NCR_TICK(t3);
        NCR_PHASE(PH_CHIP_LINKS, t2, t3);
    }

    // where a thread is in reading its chips' messages: planned, in time order, in segments
    struct Cursor {
        const Item* p = nullptr;
        const Item* e = nullptr;
        std::vector<std::pair<const Item*, const Item*>> rest;
        size_t k = 0;
        inline bool more() {
            while (p == e) {
                if (k == rest.size()) return false;
                p = rest[k].first;
                e = rest[k].second;
                ++k;
            }
            return true;
        }
        inline int64_t head() { return more() ? p->when : NEVER; }
    };

    // a thread's messages leaving their cores before `upto`, to their chips
    void scan(std::vector<Chip>& chip, Cursor& cur, int64_t upto) {
        while (cur.more()) {
            const Item* p = cur.p;  // (in registers: the stores below might alias cur's)
            const Item* const e = cur.e;
            for (; p < e && p->when < upto; ++p) {
                Chip& C = chip[p->from];
                C.pend.push_back(*p);
                if (p->when < C.next) C.next = p->when;
            }
            cur.p = p;
            if (p < e) return;
        }
    }

    // each core of chip `me` handles its arrivals first come first served
    void serve_cores(Chip& C, Scratch& S, const Params& P, int64_t me) {
        if (!P.per_message)
            for (int64_t k = me * P.cpc; k < (me + 1) * P.cpc; ++k) P.core_free[k] += P.early[k];
        std::vector<Arr>& a = C.arr;
        if (a.empty()) return;
        std::vector<Arr>& g = S.arr_sorted;
        std::vector<int32_t>& c = S.count;
        c.assign(P.cpc + 1, 0);
        for (const Arr& r : a) c[r.core + 1]++;
        for (int64_t k = 0; k < P.cpc; ++k) c[k + 1] += c[k];
        g.resize(a.size());
        for (const Arr& r : a) g[c[r.core]++] = r;
        int32_t b = 0;
        for (int64_t k = 0; k < P.cpc; ++k) {  // c[k]: the end of core k's arrivals
            if (c[k] == b) continue;
            merge_runs(g.data() + b, c[k] - b, S.arr_tmp, S.run);
            int64_t* cf = &P.core_free[me * P.cpc + k];
            int64_t f = *cf;
            for (int32_t i = b; i < c[k]; ++i) {
                const Arr& r = g[i];
                const int64_t syn = r.nsyn < MANY ? r.nsyn : P.nsyn[r.id];
                f = (r.when > f ? r.when : f) + syn * P.syn_op;
                if (P.per_message) P.done[r.id] = f;
            }
            *cf = f;
            b = c[k];
        }
        a.clear();
    }

    struct Memory {  // kept from call to call: no fresh pages (and their faults) every step
        std::vector<Chip> chip;
        std::vector<int64_t> links;
        std::vector<int64_t> early;
        std::vector<Scratch> scratch;
        std::vector<std::vector<std::vector<Item>>> boxes;
        std::vector<std::vector<Item>> streams;
        std::vector<Cursor> cursors;
    };

    int64_t simulate(Params& P, int64_t n, int64_t chips, int threads) {
        if (n == 0) return 0;
        NCR_TICK(plan0);
        static thread_local Memory M;
        // chains (see Params) and where their links are
        P.chains = 2 * P.ny + 2 * P.nx;
        P.chain.clear();
        int64_t at = 0;
        for (int64_t c = 0; c < P.chains; ++c) {
            const bool xc = c < 2 * P.ny;
            const int64_t len = (xc ? P.nx : P.ny) - 1, width = (len + 7) / 8 * 8;
            const int64_t lat = xc ? P.hop_ew : P.hop_ns;
            P.chain.push_back(Chain{(int32_t)at, (int32_t)width, (int32_t)len, lat, lat + P.serv});
            at += 2 * width;
        }
        P.clink = at;
        P.lk_per_chip = (at + 12 + 7) / 8 * 8;
        M.links.assign((size_t)chips * P.lk_per_chip, 0);
        if (!P.per_message) M.early.assign((size_t)chips * P.cpc, 0);
        P.early = M.early.data();
        P.lk = M.links.data();
        const int64_t plane = P.mx * P.my;
        const int64_t steps[6] = {1, -1, P.mx, -P.mx, plane, -plane};
        for (int k = 0; k < 6; ++k) P.step[k] = steps[k];
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
        P.core_tile.resize(P.cpc);
        for (int64_t k = 0; k < P.cpc; ++k) {
            int64_t tile = k / P.cpt;
            P.core_x[k] = (int8_t)(tile % P.nx);
            P.core_y[k] = (int8_t)(tile / P.nx);
            P.core_tile[k] = (int16_t)tile;
        }
        P.tables = P.n_tiles <= 64;
        if (P.tables) {
            const int64_t nt = P.n_tiles;
            P.local.resize(nt * nt);
            P.leave.resize(nt * 6);
            P.enter.resize(nt * 6);
            for (int64_t a = 0; a < nt; ++a) {
                const int64_t x = a % P.nx, y = a / P.nx;
                for (int64_t b = 0; b < nt; ++b)
                    P.local[a * nt + b] = leg(P, x, y, b % P.nx, b / P.nx, false);
                for (int64_t d = 0; d < 6; ++d) {
                    P.leave[a * 6 + d] = leaving(P, d, x, y);
                    P.enter[a * 6 + d] = entering(P, d, x, y);
                }
            }
        }
        std::vector<Chip>& chip = M.chip;
        if ((int64_t)chip.size() < chips) chip.resize(chips);
        for (int64_t c = 0; c < chips; ++c) chip[c].reset();
        int nthreads = threads > 0 ? threads : 1;
        #ifndef _OPENMP
        nthreads = 1;
        #endif
        // each thread keeps the same chips (and their state in its cache): contiguous ranges
        // with about equal numbers of messages sent (counted on a sample)
        const int64_t every = std::max<int64_t>(1, n / 65536);
        std::vector<int64_t> count(chips + 1, 0);
        for (int64_t m = 0; m < n; m += every) count[P.chip_of(P.s_core[m]) + 1]++;
        for (int64_t c = 0; c < chips; ++c) count[c + 1] += count[c];  // cumulative
        std::vector<int64_t> first(nthreads + 1, chips);
        first[0] = 0;
        for (int k = 1, c = 0; k < nthreads; ++k) {
            while (c < chips && count[c] * nthreads < count[chips] * k) ++c;
            first[k] = c;
        }
        P.owner.assign(chips, 0);
        for (int k = 0; k < nthreads; ++k)
            for (int64_t c = first[k]; c < first[k + 1]; ++c) P.owner[c] = k;
        // every message planned, in time order, into a stream for the thread running its source
        // chip (each planning thread, over a range of messages, keeps one per running thread),
        // and the horizons; in parallel for many messages
        const int nth = n < 65536 ? 1 : nthreads;
        std::vector<std::vector<Item>>& streams = M.streams;
        if (streams.size() < (size_t)nth * nthreads) streams.resize((size_t)nth * nthreads);
        std::vector<int64_t> thz((size_t)nth * chips, NEVER);  // per thread and chip: its horizon
        std::vector<int64_t> tsum((size_t)nth * 4, 0);  // per planning thread: ew, ns and chip
                                                        // hops, synaptic events
        char unsorted = 0;  // set by the first thread that finds two messages out of order
        #ifdef _OPENMP
        #pragma omp parallel num_threads(nth) if (nth > 1)
        #endif
        {
            int tid = 0;
            #ifdef _OPENMP
            tid = omp_get_thread_num();
            #endif
            const int64_t lo = n * tid / nth, hi = n * (tid + 1) / nth;
            // (the thread's own vectors and sums: no cache line written by two threads)
            std::vector<std::vector<Item>> out(nthreads);
            for (int k = 0; k < nthreads; ++k) {
                out[k].swap(streams[(size_t)tid * nthreads + k]);
                out[k].clear();
            }
            int64_t sum[4] = {0, 0, 0, 0};
            int64_t* hz = &thz[(size_t)tid * chips];
            // per chip and direction: the earliest a message of this thread left the chip that
            // way as a stretch of its path (in one dimension), and how many hops on it got that
            // bound (or a lower one) at least
            std::vector<Stretch> stretch((size_t)chips * 6);
            int64_t before = lo > 0 ? P.inject[lo - 1] : P.inject[0];
            for (int64_t m = lo; m < hi; ++m) {
                const int64_t inject = P.inject[m];
                if (inject < before) {  // all of this is wasted: stop every thread soon
                    __atomic_store_n(&unsorted, 1, __ATOMIC_RELAXED);
                    break;
                }
                if ((m & 4095) == 0 && __atomic_load_n(&unsorted, __ATOMIC_RELAXED)) break;
                before = inject;
                const int64_t sc = P.chip_of(P.s_core[m]), dc = P.chip_of(P.d_core[m]);
                const int64_t dl = P.d_core[m] - dc * P.cpc;
                std::vector<Item>& to = out[P.owner[sc]];
                to.emplace_back();
                Item& o = to.back();
                o.when = inject; o.id = (int32_t)m; o.dchip = (int32_t)dc;
                o.nsyn = (int32_t)P.nsyn[m]; o.dl = (int16_t)dl; o.from = (int32_t)sc;
                // the chip hops from sc to dc in x, y and z
                int64_t e[3] = {0, 0, 0};
                if (sc != dc) {
                    e[0] = P.chip_x[dc] - P.chip_x[sc];
                    e[1] = P.chip_y[dc] - P.chip_y[sc];
                    e[2] = P.chip_z[dc] - P.chip_z[sc];
                }
                int64_t h[3];
                plan(P, sc == dc, e, P.s_core[m] - sc * P.cpc, dl, o, h);
                sum[0] += h[0]; sum[1] += h[1]; sum[2] += h[2]; sum[3] += P.nsyn[m];
                if (P.per_message) {
                    P.ew[m] = (int32_t)h[0]; P.ns[m] = (int32_t)h[1]; P.chops[m] = (int32_t)h[2];
                    P.hops[m] = (int32_t)(h[0] + h[1] + h[2]);
                }
                if (sc == dc) continue;
                // the earliest a message can reach each chip on its way (every chip hop takes a
                // window at least): a chip runs ahead of the window while nothing can reach it
                int64_t at = sc, lb = inject;
                for (int dim = 0; dim < 3; ++dim) {
                    if (!e[dim]) continue;
                    const int64_t d = 2 * dim + (e[dim] < 0), hops = iabs(e[dim]);
                    stretch[at * 6 + d].bound(P, hz, at, d, hops, lb);
                    at += hops * P.step[d];
                    lb += hops * P.window;
                }
            }
            for (int k = 0; k < nthreads; ++k) out[k].swap(streams[(size_t)tid * nthreads + k]);
            for (int k = 0; k < 4; ++k) tsum[(size_t)tid * 4 + k] = sum[k];
        }
        if (unsorted) return 1;  // not in injection order: the caller sorts them
        NCR_TICK(plan1);
        #ifdef NCR_PROFILE
        if (P.phases) P.phases[PH_PLAN] += plan1 - plan0;  // (wall time, on thread 0's row)
        #endif
        for (int64_t c = 0; c < chips; ++c)
            for (int k = 0; k < nth; ++k)
                chip[c].horizon = std::min(chip[c].horizon, thz[(size_t)k * chips + c]);
        int64_t t = P.inject[0];  // nothing happens before the first message leaves its core
        std::vector<int64_t> head(nthreads, NEVER);  // per thread: the next message it has not read
        std::vector<Cursor>& cursors = M.cursors;
        cursors.assign(nthreads, Cursor());
        for (int o = 0; o < nthreads; ++o)
            for (int r = 0; r < nth; ++r) {
                const std::vector<Item>& v = streams[(size_t)r * nthreads + o];
                cursors[o].rest.emplace_back(v.data(), v.data() + v.size());
            }
        std::vector<Scratch>& scratch = M.scratch;
        std::vector<std::vector<std::vector<Item>>>& boxes = M.boxes;
        if ((int)scratch.size() < nthreads) scratch.resize(nthreads);
        if ((int)boxes.size() != nthreads) boxes.assign(nthreads, std::vector<std::vector<Item>>(nthreads));
        for (int k = 0; k < nthreads; ++k) {
            Scratch& S = scratch[k];
            S.box = &boxes[k];
            if ((int64_t)S.q.size() < P.chains) S.q.resize(P.chains);
            S.busy.assign((P.chains + 63) / 64, 0);
        }
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
            Cursor& cur = cursors[tid];
            #ifdef NCR_PROFILE
            for (int k = 0; k < PH_N; ++k) phase_ns[k] = 0;
            #endif
            while (true) {
                if (t == NEVER) break;
                NCR_TICK(w0);
                const int64_t end = t + P.window;
                if (cur.head() < end) scan(chip, cur, end);
                for (int64_t c = lo; c < hi; ++c) {
                    // a chip runs to the window's end, or further while nothing can reach it
                    const int64_t e = std::max(end, chip[c].horizon);
                    if (cur.head() < e) scan(chip, cur, e);
                    if (chip[c].next < e) run_window(chip[c], S, P, c, e);
                }
                head[tid] = cur.head();
                NCR_TICK(w1);
                NCR_PHASE(PH_SCAN, w0, w1);  // (run_window's part taken out at the end)
                #ifdef _OPENMP
                #pragma omp barrier
                #endif
                NCR_TICK(w2);
                NCR_PHASE(PH_BARRIER, w1, w2);
                for (int k = 0; k < nthreads; ++k) {  // what other threads' chips sent to ours
                    std::vector<Item>& box = boxes[k][tid];
                    for (const Item& m : box) hand_over(chip[m.chip], P, m.chip, m);
                    box.clear();
                }
                NCR_TICK(w3);
                NCR_PHASE(PH_DRAIN, w2, w3);
                #ifdef _OPENMP
                #pragma omp barrier
                #pragma omp single
                #endif
                {
                    t = NEVER;
                    for (int64_t c = 0; c < chips; ++c) t = std::min(t, chip[c].next);
                    for (int k = 0; k < nthreads; ++k) t = std::min(t, head[k]);
                }  // (the implicit barrier of `single`)
                NCR_TICK(w4);
                NCR_PHASE(PH_BARRIER, w3, w4);
            }
            NCR_TICK(c0);
            for (int64_t c = lo; c < hi; ++c) serve_cores(chip[c], S, P, c);
            NCR_TICK(c1);
            NCR_PHASE(PH_CORES, c0, c1);
            #ifdef NCR_PROFILE
            phase_ns[PH_SCAN] -= phase_ns[PH_ENTER] + phase_ns[PH_CHAINS] + phase_ns[PH_CHIP_LINKS];
            if (P.phases)
                for (int k = 1; k < PH_N; ++k) P.phases[tid * PH_N + k] += phase_ns[k];
            #endif
        }
        for (int64_t k = 0; k < 6; ++k) P.totals[k] = 0;
        for (int k = 0; k < nth; ++k) {
            for (int64_t j = 0; j < 3; ++j) P.totals[1 + j] += tsum[(size_t)k * 4 + j];
            P.totals[5] += tsum[(size_t)k * 4 + 3];
        }
        P.totals[0] = P.totals[1] + P.totals[2] + P.totals[3];
        for (int64_t c = 0; c < chips; ++c) {
            const Chip& C = chip[c];
            P.totals[4] = std::max(P.totals[4], C.last);
            const int64_t* lk = P.lk + c * P.lk_per_chip;
            for (int64_t ch = 0; ch < P.chains; ++ch) {
                const Chain& K = P.chain[ch];
                const bool xc = ch < 2 * P.ny, back = ch & 1;
                const int64_t line = xc ? ch >> 1 : (ch - 2 * P.ny) >> 1;
                for (int64_t k = 0; k < K.len; ++k) {
                    const int64_t pos = back ? K.len - k : k;  // the tile the link leaves from
                    const int64_t tile = xc ? line * P.nx + pos : pos * P.nx + line;
                    const int64_t link = c * P.n_tiles * 4 + tile * 4 + (xc ? 0 : 2) + back;
                    P.link_free[link] = lk[K.base + k];
                    P.link_load[link] = lk[K.base + K.width + k];
                }
            }
            for (int64_t k = 0; k < 6; ++k) {
                P.link_free[P.chip_link_base + c * 6 + k] = lk[P.clink + k];
                P.link_load[P.chip_link_base + c * 6 + k] = lk[P.clink + 6 + k];
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
        int64_t *phases
    int PH_N "ncr::PH_N"
    int64_t ncr_simulate "ncr::simulate"(Params& P, int64_t n, int64_t chips, int threads) except + nogil


cdef size_t ptr(object arr):
    return <size_t>arr.ctypes.data if arr.size else 0


def simulate(src, dst, nsyn_a, inject_a, board, costs, out, int threads=1, bint per_message=True,
             phases=None):
    # Messages must come sorted by injection time (their order is the tie-break order, the message
    # id): returns 1, having done nothing, if they are not; else 0.
    # board: nx, ny, cores_per_tile, cores_per_chip, mesh (3 ints); costs: RouterCosts.as_dict();
    # out: link_load, link_free (per link), core_free (per board core, holding when each core is
    #      ready on entry), totals (6: hops, east-west hops, north-south hops, chip hops, last
    #      arrival, synaptic events) and, with per_message, arrive, done, hops, ew, ns, chip_hops
    #      (per message)
    # phases: None, or int64 zeros (threads, PHASES) to add each thread's time per phase to (ns; only
    #      in a build with NCR_PROFILE defined, see benchmarks/router_phases.py)
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
    if P.cpc > 65536:
        raise ValueError("router kernel: at most 65,536 cores per chip")
    if n >= 2**31:
        raise ValueError("router kernel: at most 2**31 - 1 messages per call (message ids are 32-bit)")
    if P.chop + P.cserv <= 0 or min(P.hop_ew, P.hop_ns, P.serv, P.cserv, P.in_tile, P.chop) < 0:
        raise ValueError("router kernel: delays must be non-negative and a chip hop must take time")
    # no message crosses to another chip faster than this: chips run windows this long alone
    P.window = P.chop + P.cserv
    P.per_message = per_message
    if phases is not None and (phases.dtype != "int64" or phases.size != threads * PH_N
                               or not phases.flags.c_contiguous):
        raise ValueError(f"router kernel: phases must be contiguous int64, {threads} x {PH_N}")
    P.phases = <int64_t*>ptr(phases) if phases is not None else NULL
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


PHASES = ("planning", "injections", "tile chains", "chip links", "scan", "barriers", "box drain", "cores")
"""The phases of a call a profiling build times (``ncr::Phase``; planning is wall time, on thread 0)."""


def threads() -> int:
    """Threads for the router kernel: ``NEUROCHIP_THREADS``, else every CPU."""
    value = os.environ.get("NEUROCHIP_THREADS")
    return max(1, int(value)) if value else max(1, os.cpu_count() or 1)


def compiled():
    from neurochip.native import compile_cython

    return compile_cython(SOURCE, "neurochip_router", openmp=True)
