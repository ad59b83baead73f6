"""Ready-made learning rules, built from the rule language.

Scales are given as numbers and rounded to the nearest ``m*2^e`` the hardware
holds (m in [-8, 7], e in [-7, 8]); the rule strings they produce are in
``rule.dw``, ``rule.dt``.
"""

from __future__ import annotations

from neurochip.learning.rules import LearningRule, scale_literal


def pair_stdp(
    *,
    a_plus: float = 2**-2,
    a_minus: float = 2**-2,
    tau_plus: float = 10,
    tau_minus: float = 10,
    impulse: float = 32,
    t_epoch: int = 1,
    rounding: str = "stochastic",
) -> LearningRule:
    """Pair STDP: potentiate by ``a_plus * x1`` on a post spike, depress by ``a_minus * y1`` on a pre spike.

    ``dw = a_plus*x1*y0 - a_minus*y1*x0``: with a pre spike Δt steps before a
    post spike, w grows by ``a_plus * impulse * (1 - 1/tau_plus)**Δt``
    (approximately; the decay is the 12-bit constant of ``tau_plus``).
    """
    return LearningRule(
        dw=f"{scale_literal(a_plus)}*x1*y0 - {scale_literal(a_minus)}*y1*x0",
        x1_impulse=impulse,
        x1_tau=tau_plus,
        y1_impulse=impulse,
        y1_tau=tau_minus,
        t_epoch=t_epoch,
        rounding=rounding,
    )


def reward_stdp(
    *,
    a_plus: float = 2**-3,
    a_minus: float = 2**-3,
    tau_plus: float = 10,
    tau_minus: float = 10,
    impulse: float = 32,
    tag_decay: float = 2**-3,
    reward_impulse: float = 64,
    reward_tau: float = 4,
    weight_rate: float = 2**-6,
    t_epoch: int = 2,
    rounding: str = "stochastic",
) -> LearningRule:
    """Reward-modulated STDP with an eligibility tag (three-factor; Frémaux & Gerstner 2016).

    The tag ``t`` integrates pair STDP and decays by ``tag_decay`` per epoch:
    ``dt = a_plus*x1*y0 - a_minus*y1*x0 - tag_decay*u0*t``. Weights follow the
    tag while reward is present: ``dw = weight_rate*u0*t*y2``. The post trace
    y2 is the reward: give the projection ``modulators={"y2": reward}``.
    """
    return LearningRule(
        dt=(
            f"{scale_literal(a_plus)}*x1*y0 - {scale_literal(a_minus)}*y1*x0"
            f" - {scale_literal(tag_decay)}*u0*t"
        ),
        dw=f"{scale_literal(weight_rate)}*u0*t*y2",
        x1_impulse=impulse,
        x1_tau=tau_plus,
        y1_impulse=impulse,
        y1_tau=tau_minus,
        y2_impulse=reward_impulse,
        y2_tau=reward_tau,
        t_epoch=t_epoch,
        rounding=rounding,
    )


def teacher_rule(
    *,
    rate: float = 2**-3,
    anti_rate: float = 2**-4,
    teacher_impulse: float = 64,
    teacher_tau: float = 8,
    post_impulse: float = 64,
    post_tau: float = 8,
    t_epoch: int = 1,
    rounding: str = "stochastic",
) -> LearningRule:
    """Supervised learning with a teacher signal (a delta rule in spikes).

    On each presynaptic spike the weight moves toward the teacher:
    ``dw = rate*x0*y2 - anti_rate*x0*y1``, where y2 is the teacher trace
    (the projection's ``modulators={"y2": teacher}``, one teacher neuron per
    post neuron) and y1 the post neuron's own activity. Inputs active while
    the teacher says "fire" grow; inputs active while the neuron fires
    without being taught shrink.
    """
    return LearningRule(
        dw=f"{scale_literal(rate)}*x0*y2 - {scale_literal(anti_rate)}*x0*y1",
        y1_impulse=post_impulse,
        y1_tau=post_tau,
        y2_impulse=teacher_impulse,
        y2_tau=teacher_tau,
        t_epoch=t_epoch,
        rounding=rounding,
    )
