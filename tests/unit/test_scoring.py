"""Screening scores by the published rules (SCREENING.md): every cutoff on both sides, declined and
partial answers, skip logic, and the flags that make a screening urgent."""

import pytest

from services.intake.domain.scoring import (
    INSTRUMENTS,
    InvalidAnswers,
    InvalidSettings,
    ScoringSettings,
    ScreeningResult,
    item_ids,
    score,
)

DECLINED = None


def numbered(*answers) -> dict:
    """item1, item2, ... in order; DECLINED entries are recorded as declined (None)."""
    return {f"item{n}": answer for n, answer in enumerate(answers, start=1)}


def spread(total: int, items: int, highest: int = 3) -> list[int]:
    """Answers on a 0..highest scale over `items` items that add up to `total`."""
    answers = []
    for _ in range(items):
        answers.append(min(highest, total))
        total -= answers[-1]
    assert total == 0, "total too large for the items"
    return answers


def yes_no(pattern: str) -> list:
    """'y' yes, 'n' no, '-' declined."""
    return [{"y": True, "n": False, "-": DECLINED}[c] for c in pattern]


def phq9(*answers, item10=DECLINED) -> dict:
    return {**numbered(*answers), "item10": item10}


def dast10(pattern: str) -> dict:
    return numbered(*yes_no(pattern))


def pc_ptsd5(exposure: str, items: str = "") -> dict:
    return {"exposure": yes_no(exposure)[0], **numbered(*yes_no(items))}


def cssrs(pattern: str, recent: str | None = None) -> dict:
    """q1..q6 from the pattern (a space leaves the question out, as skip logic does)."""
    answers = {f"q{n}": yes_no(c)[0] for n, c in enumerate(pattern, start=1) if c != " "}
    if recent is not None:
        answers["q6_recent"] = yes_no(recent)[0]
    return answers


def result(instrument, domain, total, band, positive, flags=(), complete=True) -> ScreeningResult:
    return ScreeningResult(instrument, domain, total, band, positive, tuple(flags), complete)


# --- the instruments and their items ---------------------------------------------------------------


def test_the_six_published_instruments_are_known():
    assert INSTRUMENTS == ("PHQ-9", "GAD-7", "AUDIT-C", "DAST-10", "PC-PTSD-5", "C-SSRS")


def test_each_instrument_accepts_exactly_its_item_ids():
    assert item_ids("PHQ-9") == tuple(f"item{n}" for n in range(1, 11))
    assert item_ids("GAD-7") == tuple(f"item{n}" for n in range(1, 8))
    assert item_ids("AUDIT-C") == ("item1", "item2", "item3")
    assert item_ids("DAST-10") == tuple(f"item{n}" for n in range(1, 11))
    assert item_ids("PC-PTSD-5") == ("exposure", "item1", "item2", "item3", "item4", "item5")
    assert item_ids("C-SSRS") == ("q1", "q2", "q3", "q4", "q5", "q6", "q6_recent")


def test_an_unknown_instrument_is_refused_naming_the_instrument_field():
    with pytest.raises(InvalidAnswers) as refused:
        score("BDI-II", {"item1": 0})
    assert refused.value.item == "instrument"
    with pytest.raises(InvalidAnswers):
        item_ids("BDI-II")


def test_invalid_answers_is_a_value_error_that_keeps_the_item_and_the_message():
    error = InvalidAnswers("item3", "is out of range")
    assert isinstance(error, ValueError)
    assert (error.item, error.message) == ("item3", "is out of range")
    assert str(error) == "item3: is out of range"


@pytest.mark.parametrize("instrument", INSTRUMENTS)
def test_an_unknown_item_is_refused_naming_it(instrument):
    with pytest.raises(InvalidAnswers) as refused:
        score(instrument, {"item99": 0})
    assert refused.value.item == "item99"


def test_an_unknown_sex_value_is_refused_rather_than_scored_as_unknown():
    with pytest.raises(InvalidAnswers) as refused:
        score("AUDIT-C", numbered(2, 1, 1), sex="M")
    assert refused.value.item == "sex"


# --- PHQ-9 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "band", "positive"),
    [
        (0, "minimal", False),
        (4, "minimal", False),
        (5, "mild", False),
        (9, "mild", False),
        (10, "moderate", True),
        (14, "moderate", True),
        (15, "moderately severe", True),
        (19, "moderately severe", True),
        (20, "severe", True),
        (24, "severe", True),
    ],
)
def test_phq9_bands_and_positive_at_each_cutoff(total, band, positive):
    answers = phq9(*spread(total, 8), 0)
    assert score("PHQ-9", answers) == result("PHQ-9", "mental_health", total, band, positive)


def test_phq9_highest_total_is_severe_and_raises_suicide_risk_from_item9():
    assert score("PHQ-9", phq9(*[3] * 9)) == result(
        "PHQ-9", "mental_health", 27, "severe", True, ("suicide_risk",)
    )


def test_phq9_any_item9_answer_above_zero_raises_suicide_risk_whatever_the_total():
    screened = score("PHQ-9", phq9(0, 0, 0, 0, 0, 0, 0, 0, 1))
    assert screened == result("PHQ-9", "mental_health", 1, "minimal", False, ("suicide_risk",))
    assert screened.urgent is True


def test_phq9_item9_zero_raises_no_flag_and_is_not_urgent():
    screened = score("PHQ-9", phq9(3, 3, 3, 3, 3, 3, 3, 3, 0))
    assert screened.flags == ()
    assert screened.urgent is False


def test_phq9_declined_item9_is_flagged_unanswered_never_read_as_no_risk():
    screened = score("PHQ-9", phq9(1, 1, 1, 1, 1, 1, 1, 1, DECLINED))
    assert screened == result(
        "PHQ-9", "mental_health", 9, "mild", False, ("item9_unanswered", "prorated"), complete=False
    )
    assert screened.urgent is False


def test_phq9_item10_is_recorded_but_never_scored_nor_required():
    assert score("PHQ-9", phq9(1, 1, 1, 1, 1, 0, 0, 0, 0, item10=3)).total == 5
    without_item10 = {f"item{n}": 1 for n in range(1, 9)} | {"item9": 0}
    assert score("PHQ-9", without_item10) == result("PHQ-9", "mental_health", 8, "mild", False)


def test_phq9_item10_is_still_checked_against_its_scale():
    with pytest.raises(InvalidAnswers) as refused:
        score("PHQ-9", phq9(0, 0, 0, 0, 0, 0, 0, 0, 0, item10=4))
    assert refused.value.item == "item10"


def test_phq9_one_declined_item_is_prorated_with_a_half_rounded_up_across_the_mild_cutoff():
    # 4 x 9 / 8 = 4.5: halves go up to 5 (mild); Python's round() would give 4 (minimal).
    screened = score("PHQ-9", phq9(DECLINED, 1, 1, 1, 1, 0, 0, 0, 0))
    assert screened == result("PHQ-9", "mental_health", 5, "mild", False, ("prorated",), complete=False)


def test_phq9_one_declined_item_prorates_22_and_a_half_up_to_23():
    screened = score("PHQ-9", phq9(DECLINED, 3, 3, 3, 3, 3, 3, 2, 0))
    assert (screened.total, screened.band, screened.flags) == (23, "severe", ("prorated",))


def test_phq9_two_declined_items_are_prorated_and_can_cross_the_positive_cutoff():
    # 8 x 9 / 7 = 10.29 -> 10: positive, where the raw sum of 8 would not be.
    screened = score("PHQ-9", phq9(DECLINED, DECLINED, 2, 2, 1, 1, 1, 1, 0))
    assert screened == result("PHQ-9", "mental_health", 10, "moderate", True, ("prorated",), complete=False)


def test_phq9_two_declined_items_prorate_down_when_below_the_half():
    # 7 x 9 / 7 = 9 exactly; 6 x 9 / 7 = 7.71 -> 8.
    assert score("PHQ-9", phq9(DECLINED, DECLINED, 1, 1, 1, 1, 1, 1, 1)).total == 9
    assert score("PHQ-9", phq9(DECLINED, DECLINED, 1, 1, 1, 1, 1, 1, 0)).total == 8


def test_phq9_three_declined_items_leave_no_total_and_only_what_is_certain():
    # 0..9 is possible: minimal or mild, so no band; never 10, so certainly negative.
    screened = score("PHQ-9", phq9(DECLINED, DECLINED, DECLINED, 0, 0, 0, 0, 0, 0))
    assert screened == result("PHQ-9", "mental_health", None, None, False, complete=False)


def test_phq9_three_declined_items_with_high_answers_are_certainly_positive_but_of_no_certain_band():
    # 18..27 is possible: moderately severe or severe, positive either way.
    screened = score("PHQ-9", phq9(DECLINED, DECLINED, DECLINED, 3, 3, 3, 3, 3, 3))
    assert screened == result("PHQ-9", "mental_health", None, None, True, ("suicide_risk",), complete=False)


def test_phq9_four_declined_items_with_high_answers_are_certainly_positive_but_of_no_certain_band():
    # 15 from five answered items, four declined: 15..27 could be moderately severe or severe.
    screened = score("PHQ-9", phq9(DECLINED, DECLINED, DECLINED, DECLINED, 3, 3, 3, 3, 3))
    assert (screened.total, screened.band, screened.positive) == (None, None, True)


def test_phq9_all_declined_gives_nothing_but_the_unanswered_item9():
    expected = result("PHQ-9", "mental_health", None, None, None, ("item9_unanswered",), complete=False)
    assert score("PHQ-9", phq9(*[DECLINED] * 9)) == expected
    assert score("PHQ-9", {}) == expected


@pytest.mark.parametrize("wrong", [True, False, 4, -1, 2.0, "2"])
def test_phq9_refuses_an_answer_that_is_not_a_number_on_its_scale_naming_the_item(wrong):
    with pytest.raises(InvalidAnswers) as refused:
        score("PHQ-9", phq9(0, 0, wrong, 0, 0, 0, 0, 0, 0))
    assert refused.value.item == "item3"


# --- GAD-7 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "band", "positive"),
    [
        (0, "minimal", False),
        (4, "minimal", False),
        (5, "mild", False),
        (9, "mild", False),
        (10, "moderate", True),
        (14, "moderate", True),
        (15, "severe", True),
        (21, "severe", True),
    ],
)
def test_gad7_bands_and_positive_at_each_cutoff(total, band, positive):
    assert score("GAD-7", numbered(*spread(total, 7))) == result("GAD-7", "mental_health", total, band, positive)


def test_gad7_one_declined_item_prorates_ten_and_a_half_up_to_eleven():
    # 9 x 7 / 6 = 10.5: halves go up (Python's round() would give 10).
    screened = score("GAD-7", numbered(DECLINED, 3, 3, 3, 0, 0, 0))
    assert screened == result("GAD-7", "mental_health", 11, "moderate", True, ("prorated",), complete=False)


def test_gad7_one_declined_item_prorates_three_and_a_half_up_to_four():
    # 3 x 7 / 6 = 3.5 -> 4: minimal.
    assert score("GAD-7", numbered(1, 1, 1, 0, 0, 0, DECLINED)).total == 4


def test_gad7_two_declined_items_are_prorated():
    # 5 x 7 / 5 = 7.
    screened = score("GAD-7", numbered(1, 1, 1, 1, 1, DECLINED, DECLINED))
    assert screened == result("GAD-7", "mental_health", 7, "mild", False, ("prorated",), complete=False)


def test_gad7_three_declined_items_leave_no_total():
    # 12..21 is possible: moderate or severe, positive either way.
    screened = score("GAD-7", numbered(3, 3, 3, 3, DECLINED, DECLINED, DECLINED))
    assert screened == result("GAD-7", "mental_health", None, None, True, complete=False)


def test_gad7_all_declined_gives_no_total_band_or_positive():
    assert score("GAD-7", numbered(*[DECLINED] * 7)) == result(
        "GAD-7", "mental_health", None, None, None, complete=False
    )


def test_gad7_has_no_item8():
    with pytest.raises(InvalidAnswers) as refused:
        score("GAD-7", numbered(*[0] * 8))
    assert refused.value.item == "item8"


def test_gad7_refuses_true_as_one():
    with pytest.raises(InvalidAnswers) as refused:
        score("GAD-7", numbered(True, 0, 0, 0, 0, 0, 0))
    assert refused.value.item == "item1"


# --- AUDIT-C ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sex", "answers", "total", "positive", "flags"),
    [
        ("male", (2, 1, 0), 3, False, ()),
        ("male", (2, 1, 1), 4, True, ()),
        ("female", (1, 1, 0), 2, False, ()),
        ("female", (2, 1, 0), 3, True, ()),
        ("other", (1, 1, 0), 2, False, ("unspecified_sex_cutoff",)),
        ("other", (2, 1, 0), 3, True, ("unspecified_sex_cutoff",)),
        (None, (1, 1, 0), 2, False, ("unspecified_sex_cutoff",)),
        (None, (2, 1, 0), 3, True, ("unspecified_sex_cutoff",)),
    ],
)
def test_audit_c_positive_at_each_sex_cutoff(sex, answers, total, positive, flags):
    assert score("AUDIT-C", numbered(*answers), sex=sex) == result(
        "AUDIT-C", "substance_use", total, None, positive, flags
    )


def test_audit_c_positive_from_item1_alone_is_flagged_for_review():
    assert score("AUDIT-C", numbered(4, 0, 0), sex="male") == result(
        "AUDIT-C", "substance_use", 4, None, True, ("points_from_item1_only",)
    )
    assert score("AUDIT-C", numbered(3, 0, 0), sex="female").flags == ("points_from_item1_only",)
    assert score("AUDIT-C", numbered(3, 0, 0)).flags == ("points_from_item1_only", "unspecified_sex_cutoff")


def test_audit_c_negative_screen_from_item1_alone_is_not_flagged():
    assert score("AUDIT-C", numbered(3, 0, 0), sex="male") == result("AUDIT-C", "substance_use", 3, None, False)


def test_audit_c_never_drinking_scores_zero_without_asking_items_2_and_3():
    expected = result("AUDIT-C", "substance_use", 0, None, False)
    assert score("AUDIT-C", {"item1": 0}, sex="female") == expected
    assert score("AUDIT-C", numbered(0, DECLINED, DECLINED), sex="female") == expected


@pytest.mark.parametrize("item", ["item2", "item3"])
def test_audit_c_an_answer_to_an_item_skipped_after_never_is_refused_naming_it(item):
    with pytest.raises(InvalidAnswers) as refused:
        score("AUDIT-C", {"item1": 0, item: 0}, sex="male")
    assert refused.value.item == item


def test_audit_c_declined_item_leaves_no_total_but_a_certain_positive():
    # 4 + 0 + (0..4): positive for a man whatever item 3 was. Not flagged points_from_item1_only:
    # item 3 is not known to have scored 0.
    assert score("AUDIT-C", numbered(4, 0, DECLINED), sex="male") == result(
        "AUDIT-C", "substance_use", None, None, True, complete=False
    )


def test_audit_c_declined_item_that_could_cross_the_cutoff_leaves_positive_unknown():
    assert score("AUDIT-C", numbered(1, 1, DECLINED), sex="female") == result(
        "AUDIT-C", "substance_use", None, None, None, complete=False
    )


def test_audit_c_declined_item1_could_be_never_so_even_heavy_answers_leave_positive_unknown():
    # Chosen from "report only what is certain": item 1 "never" would total 0 by the skip logic.
    assert score("AUDIT-C", numbered(DECLINED, 4, 4), sex="male").positive is None


def test_audit_c_all_declined_gives_no_total_or_positive():
    assert score("AUDIT-C", numbered(DECLINED, DECLINED, DECLINED), sex="male") == result(
        "AUDIT-C", "substance_use", None, None, None, complete=False
    )


@pytest.mark.parametrize("wrong", [5, -1, True])
def test_audit_c_refuses_answers_off_its_0_to_4_scale(wrong):
    with pytest.raises(InvalidAnswers) as refused:
        score("AUDIT-C", numbered(1, wrong, 0), sex="male")
    assert refused.value.item == "item2"


# --- DAST-10 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "total", "band", "positive"),
    [
        ("nnynnnnnnn", 0, "none", False),  # yes to item 3 (can always stop) is the healthy answer
        ("nnnnnnnnnn", 1, "low", False),  # all "no": item 3's "no" alone scores 1
        ("ynynnnnnnn", 1, "low", False),
        ("yyynnnnnnn", 2, "low", False),
        ("yynnnnnnnn", 3, "moderate", True),
        ("yyyyyynnnn", 5, "moderate", True),
        ("yynyyynnnn", 6, "substantial", True),
        ("yyyyyyyyyn", 8, "substantial", True),
        ("yynyyyyyyn", 9, "severe", True),
        ("yyyyyyyyyy", 9, "severe", True),
        ("yynyyyyyyy", 10, "severe", True),
    ],
)
def test_dast10_bands_and_positive_at_each_cutoff_with_item3_reverse_scored(pattern, total, band, positive):
    assert score("DAST-10", dast10(pattern)) == result("DAST-10", "substance_use", total, band, positive)


def test_dast10_nine_problem_answers_and_one_declined_is_certainly_severe_and_positive():
    expected = result("DAST-10", "substance_use", None, "severe", True, complete=False)
    assert score("DAST-10", dast10("yynyyyyyy-")) == expected
    assert score("DAST-10", dast10("yy-yyyyyyy")) == expected


def test_dast10_eight_problem_answers_and_one_declined_is_positive_of_no_certain_band():
    assert score("DAST-10", dast10("yynyyyyy-n")) == result(
        "DAST-10", "substance_use", None, None, True, complete=False
    )


def test_dast10_no_problem_answers_and_one_declined_is_certainly_negative_of_no_certain_band():
    assert score("DAST-10", dast10("nnynnnnnn-")) == result(
        "DAST-10", "substance_use", None, None, False, complete=False
    )


def test_dast10_two_problem_answers_and_one_declined_could_be_either_side_of_the_cutoff():
    assert score("DAST-10", dast10("yyynnnnnn-")) == result(
        "DAST-10", "substance_use", None, None, None, complete=False
    )


def test_dast10_all_declined_gives_nothing():
    assert score("DAST-10", dast10("----------")) == result(
        "DAST-10", "substance_use", None, None, None, complete=False
    )
    assert score("DAST-10", {}).total is None


@pytest.mark.parametrize("wrong", [1, 0, "yes"])
def test_dast10_refuses_a_number_for_a_yes_no_item(wrong):
    with pytest.raises(InvalidAnswers) as refused:
        score("DAST-10", {**dast10("nnynnnnnnn"), "item4": wrong})
    assert refused.value.item == "item4"


# --- PC-PTSD-5 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cutoff", "items", "total", "positive"),
    [
        (3, "yynnn", 2, False),
        (3, "yyynn", 3, True),
        (4, "yyynn", 3, False),
        (4, "yyyyn", 4, True),
        (4, "yyyyy", 5, True),
    ],
)
def test_pc_ptsd5_positive_on_each_side_of_the_cutoff_setting(cutoff, items, total, positive):
    screened = score("PC-PTSD-5", pc_ptsd5("y", items), settings=ScoringSettings(pc_ptsd5_cutoff=cutoff))
    assert screened == result("PC-PTSD-5", "trauma", total, None, positive)


def test_pc_ptsd5_default_cutoff_is_the_most_sensitive_3():
    assert ScoringSettings().pc_ptsd5_cutoff == 3
    assert score("PC-PTSD-5", pc_ptsd5("y", "nnyyy")).positive is True


def test_pc_ptsd5_without_trauma_exposure_totals_zero_and_is_complete():
    assert score("PC-PTSD-5", pc_ptsd5("n")) == result("PC-PTSD-5", "trauma", 0, None, False)
    assert score("PC-PTSD-5", pc_ptsd5("n", "-----")) == result("PC-PTSD-5", "trauma", 0, None, False)


def test_pc_ptsd5_an_item_answered_without_exposure_is_refused_naming_it():
    with pytest.raises(InvalidAnswers) as refused:
        score("PC-PTSD-5", pc_ptsd5("n", "--n--"))
    assert refused.value.item == "item3"


def test_pc_ptsd5_declined_item_leaves_no_total_but_a_certain_positive():
    assert score("PC-PTSD-5", pc_ptsd5("y", "yyy-n")) == result(
        "PC-PTSD-5", "trauma", None, None, True, complete=False
    )


def test_pc_ptsd5_declined_item_that_could_reach_the_cutoff_leaves_positive_unknown():
    assert score("PC-PTSD-5", pc_ptsd5("y", "yy-nn")).positive is None


def test_pc_ptsd5_declined_item_that_cannot_reach_the_cutoff_is_certainly_negative():
    assert score("PC-PTSD-5", pc_ptsd5("y", "y-nnn")).positive is False


def test_pc_ptsd5_declined_exposure_could_be_no_exposure_so_symptoms_alone_are_not_certain():
    assert score("PC-PTSD-5", pc_ptsd5("-", "yyyyy")) == result(
        "PC-PTSD-5", "trauma", None, None, None, complete=False
    )
    assert score("PC-PTSD-5", pc_ptsd5("-", "nnnnn")).positive is False


def test_pc_ptsd5_all_declined_gives_nothing():
    assert score("PC-PTSD-5", {}) == result("PC-PTSD-5", "trauma", None, None, None, complete=False)


@pytest.mark.parametrize("cutoff", [0, 6, True])
def test_pc_ptsd5_cutoff_setting_must_be_on_the_scale(cutoff):
    with pytest.raises(InvalidSettings):
        ScoringSettings(pc_ptsd5_cutoff=cutoff)


def test_pc_ptsd5_refuses_a_number_for_exposure():
    with pytest.raises(InvalidAnswers) as refused:
        score("PC-PTSD-5", {"exposure": 1})
    assert refused.value.item == "exposure"


# --- C-SSRS ----------------------------------------------------------------------------------------


def ssrs_result(band, positive, flags=(), complete=True) -> ScreeningResult:
    return result("C-SSRS", "suicide_risk", None, band, positive, flags, complete)


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (cssrs("nn   n"), ssrs_result("none", False)),
        (cssrs("yn   n"), ssrs_result("low", False)),
        (cssrs("yynnnn"), ssrs_result("low", False)),
        (cssrs("yyynnn"), ssrs_result("moderate", False)),
        (cssrs("nn   y", recent="n"), ssrs_result("moderate", False)),
        (cssrs("yynynn"), ssrs_result("high", True, ("high_risk",))),
        (cssrs("yynnyn"), ssrs_result("high", True, ("high_risk",))),
        (cssrs("nn   y", recent="y"), ssrs_result("high", True, ("high_risk", "recent_behavior"))),
    ],
)
def test_cssrs_each_risk_level(answers, expected):
    assert score("C-SSRS", answers) == expected


def test_cssrs_level_is_the_highest_among_the_yes_answers():
    assert score("C-SSRS", cssrs("yyyyyy", recent="n")) == ssrs_result("high", True, ("high_risk",))
    assert score("C-SSRS", cssrs("yyynny", recent="n")).band == "moderate"


def test_cssrs_high_risk_is_urgent_and_lower_levels_are_not():
    assert score("C-SSRS", cssrs("yynynn")).urgent is True
    assert score("C-SSRS", cssrs("nn   y", recent="y")).urgent is True
    assert score("C-SSRS", cssrs("yyynnn")).urgent is False
    assert score("C-SSRS", cssrs("nn   y", recent="-")).urgent is False


def test_cssrs_a_declined_question_that_could_raise_the_level_is_flagged_and_positive_unknown():
    # Yes to 1 is low for certain; a declined 2 could lead to a yes to 4 or 5 (high).
    assert score("C-SSRS", cssrs("y-   n")) == ssrs_result(
        "low", None, ("unanswered_could_raise_risk",), complete=False
    )


def test_cssrs_a_declined_question_that_could_raise_the_level_but_not_to_high_is_certainly_negative():
    # A yes to 3 would make it moderate, never high.
    assert score("C-SSRS", cssrs("yy-nnn")) == ssrs_result(
        "low", False, ("unanswered_could_raise_risk",), complete=False
    )


def test_cssrs_yes_to_6_with_its_timing_declined_is_at_least_moderate():
    assert score("C-SSRS", cssrs("nn   y", recent="-")) == ssrs_result(
        "moderate", None, ("unanswered_could_raise_risk",), complete=False
    )


def test_cssrs_high_risk_stays_certain_when_something_is_declined():
    assert score("C-SSRS", cssrs("yyny-n")) == ssrs_result("high", True, ("high_risk",), complete=False)


def test_cssrs_no_yes_and_something_declined_gives_no_level():
    assert score("C-SSRS", cssrs("-n   n")) == ssrs_result(
        None, False, ("unanswered_could_raise_risk",), complete=False
    )
    assert score("C-SSRS", cssrs("nn   -")) == ssrs_result(
        None, None, ("unanswered_could_raise_risk",), complete=False
    )


def test_cssrs_all_declined_gives_no_level():
    expected = ssrs_result(None, None, ("unanswered_could_raise_risk",), complete=False)
    assert score("C-SSRS", {}) == expected
    assert score("C-SSRS", cssrs("------")) == expected


def test_cssrs_questions_3_to_5_skipped_after_no_to_2_are_not_missing():
    assert score("C-SSRS", cssrs("nn   n")).complete is True
    assert score("C-SSRS", {**cssrs("nn   n"), "q3": None, "q4": None, "q5": None}).complete is True


@pytest.mark.parametrize("item", ["q3", "q4", "q5"])
def test_cssrs_an_answer_after_no_to_2_is_refused_naming_it(item):
    with pytest.raises(InvalidAnswers) as refused:
        score("C-SSRS", {**cssrs("nn   n"), item: False})
    assert refused.value.item == item


@pytest.mark.parametrize("q6", ["n", "-"])
def test_cssrs_the_3_month_follow_up_is_refused_unless_6_was_yes(q6):
    with pytest.raises(InvalidAnswers) as refused:
        score("C-SSRS", cssrs(f"nn   {q6}", recent="y"))
    assert refused.value.item == "q6_recent"


def test_cssrs_refuses_a_number_for_a_yes_no_question():
    with pytest.raises(InvalidAnswers) as refused:
        score("C-SSRS", {"q1": 1})
    assert refused.value.item == "q1"
