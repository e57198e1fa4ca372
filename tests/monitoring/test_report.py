"""The batch report never says a monitor run promoted anything: promotion is a separate step."""

from __future__ import annotations

from matshift.monitoring.report import _challenger_section

DECISION = {
    "evaluated": True,
    "promote": True,
    "reason": "worst-group MAE improves by 10%",
    "champion_plant_worst_group_mae": 1.0,
    "challenger_plant_worst_group_mae": 0.9,
    "champion_plant_mae": 0.8,
    "challenger_plant_mae": 0.7,
    "champion_in_distribution_mae": 0.5,
    "challenger_in_distribution_mae": 0.5,
    "adaptation_rows": 70,
    "held_back_rows": 30,
    "in_distribution_rows": 100,
    "in_distribution_mae_limit": 0.525,
}


def test_a_favoured_challenger_of_an_ineligible_batch_says_why_it_is_not_proposed():
    section = "".join(
        _challenger_section({**DECISION, "eligible": False, "not_eligible_because": ["example batch"]})
    )
    assert "promoted" not in section
    assert "favoured by the rule — not eligible for promotion: example batch" in section


def test_a_favoured_eligible_challenger_points_to_the_proposal():
    section = "".join(_challenger_section({**DECISION, "eligible": True, "not_eligible_because": []}))
    assert "promoted" not in section and "proposal.json" in section


def test_a_challenger_the_rule_rejects_is_not_favoured():
    section = "".join(_challenger_section({**DECISION, "promote": False}))
    assert "not favoured by the rule" in section
