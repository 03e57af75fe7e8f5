import tomllib

import pytest

from pipelines.config import load_rules, parse_rules
from pipelines.paths import RULES_FILE


def test_rules_file_parses_with_the_dhcs_thresholds():
    rules = load_rules()
    assert (rules.adult.ed_visits, rules.adult.unplanned_stays) == (5, 3)
    assert (rules.child.ed_visits, rules.child.unplanned_stays) == (3, 2)
    assert rules.adult_min_age == 21
    assert rules.sql_params()["adult_ed_measure"] == "dhcs"


def test_unknown_ed_measure_is_refused():
    raw = tomllib.loads(RULES_FILE.read_text())
    raw["adult"]["ed_measure"] = "preventable"
    with pytest.raises(ValueError, match="ed_measure"):
        parse_rules(raw)
