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


def test_the_old_avoidable_measure_is_refused_with_its_replacements():
    raw = tomllib.loads(RULES_FILE.read_text())
    raw["adult"]["ed_measure"] = "avoidable"
    with pytest.raises(ValueError, match="use 'dhcs'.*'nyu'.*'all'"):
        parse_rules(raw)


def test_nyu_settings_are_checked_and_name_the_method():
    raw = tomllib.loads(RULES_FILE.read_text())
    assert parse_rules(raw).adult.avoidable_method == "dhcs"
    raw["adult"] |= {"ed_measure": "nyu", "nyu_method": "fractional"}
    assert parse_rules(raw).sql_params()["avoidable_method"] == "nyu_fractional"
    raw["adult"]["ed_measure"] = "all"
    assert parse_rules(raw).adult.avoidable_method == "dhcs"  # avoidable counts stay DHCS
    raw["adult"] |= {"ed_measure": "nyu", "nyu_method": "sum"}
    with pytest.raises(ValueError, match="nyu_method"):
        parse_rules(raw)
    raw["adult"] |= {"nyu_method": "threshold", "nyu_threshold": 1.5}
    with pytest.raises(ValueError, match="nyu_threshold"):
        parse_rules(raw)
