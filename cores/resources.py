"""Per-core resources: limits of the Loihi 1 preset, the synapse memory cost model, the report.

Limits (DESIGN.md section 7; Davies et al. 2018; nengo-loihi ``block.py``):
1,024 compartments, 4,096 input axons, 4,096 output axons, 1 Mbit (16,384
64-bit words) of synapse memory, 32 compartment profiles and 16 synapse formats
per core.

Accounting, as the hardware does it:

* **input axons** of a core: one per distinct source (compartment or input
  channel) with at least one synapse on the core. The source's message to the
  core names that axon; the axon's synapse list holds all its synapses there.
* **output axons** of a core: one per (source compartment on the core,
  destination core) pair. A spike becomes one message per output axon.
* **synapse memory** (cost model): each input axon's synapses, grouped by
  synapse format, are stored in runs of at most 64 synapses. A run costs a
  10-bit header (4-bit format index + 6-bit count) plus, per synapse, the
  weight bits of its format, its delay bits, its tag bits (0 without learning)
  and a 10-bit compartment index (sparse storage: 1,024 compartments), rounded
  up to whole 64-bit words (nengo-loihi ``SynapseConfig.bits_per_axon``). A
  learning synapse occupies two slots, so it counts twice.
* **profiles**: distinct (du, dv, ds_offset, dm_offset, refractory, vth_mant)
  tuples on the core; bias is per compartment, as on Loihi.
* **formats**: distinct (sign mode, weight bits, weight exponent, delay bits).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

SYN_RUN_MAX = 64
SYN_RUN_HEADER_BITS = 10
SYN_WORD_BITS = 64
SYN_INDEX_BITS = 10
SYN_TAG_BITS = 0

RESOURCES = ("compartments", "in_axons", "out_axons", "synapse_bits", "profiles", "formats")
# Limits that "report" mode records instead of enforcing; the others describe
# what a core can represent at all and are always enforced.
CAPACITY_RESOURCES = ("in_axons", "out_axons", "synapse_bits")


@dataclass(frozen=True)
class CoreLimits:
    compartments: int = 1024
    in_axons: int = 4096
    out_axons: int = 4096
    synapse_bits: int = 16384 * 64
    profiles: int = 32
    formats: int = 16

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


LOIHI1_CORE = CoreLimits()


def bits_per_synapse(weight_bits, delay_bits, learning=False) -> np.ndarray:
    """Bits of one synapse; a learning synapse takes two slots (twice the bits)."""
    one = np.asarray(weight_bits, np.int64) + np.asarray(delay_bits, np.int64) + SYN_TAG_BITS + SYN_INDEX_BITS
    return one * (1 + np.asarray(learning, np.int64))


def synapse_list_bits(n_synapses, bits_each) -> np.ndarray:
    """Memory of synapse lists of ``n_synapses`` synapses of ``bits_each`` bits (one format)."""
    n = np.asarray(n_synapses, np.int64)
    b = np.asarray(bits_each, np.int64)

    def run_bits(k):
        return -(-(SYN_RUN_HEADER_BITS + k * b) // SYN_WORD_BITS) * SYN_WORD_BITS

    full, rest = n // SYN_RUN_MAX, n % SYN_RUN_MAX
    return full * run_bits(SYN_RUN_MAX) + np.where(rest > 0, run_bits(rest), 0)


def synapse_bits_per_core(list_core, list_fmt, list_len, fmt_bits, n_cores: int) -> np.ndarray:
    """Synapse memory of each core from its synapse lists (one per input axon and format).

    Equal to summing :func:`synapse_list_bits` over the lists, computed from
    counts per (core, format) and (core, format, last-run length) so that it
    stays cheap for millions of lists.
    """
    nf = len(fmt_bits)
    if nf == 0:  # no synapses at all
        return np.zeros(n_cores, np.int64)
    key = np.asarray(list_core, np.int64) * nf + np.asarray(list_fmt, np.int64)
    n = np.asarray(list_len, np.int64)
    full = np.bincount(key, weights=n // SYN_RUN_MAX, minlength=n_cores * nf).reshape(n_cores, nf)
    rest = np.bincount(key * SYN_RUN_MAX + n % SYN_RUN_MAX, minlength=n_cores * nf * SYN_RUN_MAX)
    rest = rest.reshape(n_cores, nf, SYN_RUN_MAX)
    k = np.arange(SYN_RUN_MAX)
    per_rest = synapse_list_bits(k[None, :], np.asarray(fmt_bits, np.int64)[:, None])  # (nf, 64)
    per_full = synapse_list_bits(SYN_RUN_MAX, np.asarray(fmt_bits, np.int64))  # (nf,)
    total = full @ per_full + np.einsum("cfk,fk->c", rest, per_rest)
    return np.rint(total).astype(np.int64)


@dataclass
class ResourceReport:
    """Per-core resource use of a placed program, with the limits it is held to."""

    chip: np.ndarray
    core: np.ndarray
    usage: dict[str, np.ndarray]
    limits: CoreLimits

    @property
    def n_cores(self) -> int:
        return int(self.chip.size)

    def violations(self) -> list[tuple[int, int, str, int, int]]:
        """(chip, core, resource, used, limit) for every exceeded limit."""
        out = []
        for r in RESOURCES:
            lim = getattr(self.limits, r)
            for k in np.flatnonzero(self.usage[r] > lim):
                out.append((int(self.chip[k]), int(self.core[k]), r, int(self.usage[r][k]), lim))
        return out

    def totals(self) -> dict[str, int]:
        return {r: int(self.usage[r].sum()) for r in RESOURCES}

    def peak(self) -> dict[str, int]:
        return {r: int(self.usage[r].max(initial=0)) for r in RESOURCES}

    def table(self, max_rows: int = 12) -> str:
        head = f"{'chip':>4} {'core':>4} " + " ".join(f"{r:>14}" for r in RESOURCES)
        lims = "limit      " + " ".join(f"{getattr(self.limits, r):>14}" for r in RESOURCES)
        rows = [head, lims]
        idx = np.arange(self.n_cores)
        if self.n_cores > max_rows:
            idx = np.r_[idx[: max_rows // 2], idx[-(max_rows // 2) :]]
        prev = -1
        for k in idx:
            if prev >= 0 and k != prev + 1:
                rows.append(f"  ... {k - prev - 1} more cores")
            prev = k
            rows.append(
                f"{self.chip[k]:>4} {self.core[k]:>4} "
                + " ".join(f"{int(self.usage[r][k]):>14}" for r in RESOURCES)
            )
        return "\n".join(rows)

    def to_hdf5(self, group) -> None:
        group.create_dataset("chip", data=self.chip)
        group.create_dataset("core", data=self.core)
        for r in RESOURCES:
            group.create_dataset(r, data=self.usage[r])
        for k, v in self.limits.as_dict().items():
            group.attrs[f"limit_{k}"] = v

    @classmethod
    def from_hdf5(cls, group) -> ResourceReport:
        limits = CoreLimits(**{f.name: int(group.attrs[f"limit_{f.name}"]) for f in fields(CoreLimits)})
        return cls(
            chip=group["chip"][()],
            core=group["core"][()],
            usage={r: group[r][()] for r in RESOURCES},
            limits=limits,
        )
