"""The integer on-chip learning engine (DESIGN.md section 6).

:class:`LearningRule` holds ``dw``/``dd``/``dt`` sums of products in Lava's
syntax, trace settings and the epoch; give it to a :class:`neurochip.Projection`
as ``learning_rule=``. Ready-made: :func:`pair_stdp`, :func:`reward_stdp`,
:func:`teacher_rule`.
"""

from neurochip.learning.library import pair_stdp, reward_stdp, teacher_rule
from neurochip.learning.rules import LearningRule, RuleError

__all__ = ["LearningRule", "RuleError", "pair_stdp", "reward_stdp", "teacher_rule"]
