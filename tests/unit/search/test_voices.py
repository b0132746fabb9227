"""The voices view: shares beside the population, the under-representation rule and its
sentence, and the operator's population file (errors name the line)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from candour_cli import demo
from candour_common.about_you import Characteristic
from candour_common.events import CategoryCount, CharacteristicMix, VoicesSummarised
from candour_search.population import PopulationFileError, load_population, parse_population
from candour_search.voices import voices_view

pytestmark = pytest.mark.unit

AT = datetime(2025, 3, 5, 2, 0, tzinfo=UTC)
POPULATION = {
    Characteristic.SEX: {"female": 0.5, "male": 0.5},
    Characteristic.DISABILITY: {"yes": 0.2, "no": 0.8},
}


def summary(*mixes: CharacteristicMix) -> VoicesSummarised:
    return VoicesSummarised(
        programme="mental-health", summarised_at=AT, characteristics=list(mixes)
    )


def sex(female: int | None, male: int | None, answered: int | None) -> CharacteristicMix:
    return CharacteristicMix(
        characteristic=Characteristic.SEX,
        answered=answered,
        prefer_not_to_say=None,
        categories=[
            CategoryCount(category="female", count=female),
            CategoryCount(category="male", count=male),
        ],
    )


def disability(yes: int | None, no: int | None, answered: int | None) -> CharacteristicMix:
    return CharacteristicMix(
        characteristic=Characteristic.DISABILITY,
        answered=answered,
        prefer_not_to_say=None,
        categories=[
            CategoryCount(category="yes", count=yes),
            CategoryCount(category="no", count=no),
        ],
    )


def test_a_share_below_four_fifths_of_the_population_share_is_named() -> None:
    # male 12/40 = 30% < 0.8 x 50% = 40%: under-represented; female 70% is not.
    view = voices_view("mental-health", summary(sex(28, 12, 40)), "Leeds", ["Leeds"], POPULATION)
    [mix] = view.characteristics
    assert [c.under_represented for c in mix.categories] == [False, True]
    assert mix.categories[1].voice_share == pytest.approx(0.3)
    assert view.sentence() == (
        "Compared with the population of Leeds, these groups are under-represented: sex: Male."
    )


def test_just_at_four_fifths_is_not_under_represented() -> None:
    view = voices_view("mental-health", summary(sex(24, 16, 40)), "Leeds", ["Leeds"], POPULATION)
    assert not any(c.under_represented for c in view.characteristics[0].categories)
    assert view.sentence() == "No group is under-represented compared with the population of Leeds."


def test_a_suppressed_count_is_judged_by_the_most_it_could_be() -> None:
    # yes is hidden; at most 60 - 56 = 4 of 60 (7%) < 0.8 x 20%: named.
    named = voices_view(
        "mental-health", summary(disability(None, 56, 60)), "Leeds", ["Leeds"], POPULATION
    )
    assert named.characteristics[0].categories[0].under_represented
    assert named.characteristics[0].categories[0].voice_share is None
    assert "disability: Disabled" in named.sentence()
    # With only 10 answers, a hidden yes could be up to 4 of 10 (40%): not named.
    unsure = voices_view(
        "mental-health", summary(disability(None, 6, 10)), "Leeds", ["Leeds"], POPULATION
    )
    assert not unsure.characteristics[0].categories[0].under_represented


def test_a_question_too_few_answered_is_not_judged() -> None:
    view = voices_view(
        "mental-health", summary(sex(None, None, None)), "Leeds", ["Leeds"], POPULATION
    )
    assert not any(c.under_represented for c in view.characteristics[0].categories)
    assert view.sentence().startswith("Too few people have answered")


def test_without_a_summary_or_a_population_the_sentence_says_so() -> None:
    assert (
        voices_view("x", None, "Leeds", ["Leeds"], POPULATION)
        .sentence()
        .startswith("No one has answered")
    )
    no_figures = voices_view("mental-health", summary(sex(28, 12, 40)), None, [], {})
    assert no_figures.sentence().startswith("There are no population figures")


def test_the_demo_population_file_is_valid() -> None:
    population = load_population(Path(demo.population_csv_path()))
    assert population.areas == ["Bradford", "England"]
    assert population.of("Bradford")[Characteristic.ETHNIC_GROUP]["asian"] == pytest.approx(0.321)


HEADER = "area,characteristic,category,share\n"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("Leeds,sex,female,0.5\nLeeds,sex,male,abc\n", "line 3: share 'abc' is not a number"),
        ("Leeds,sex,female,1.5\n", "line 2: share must be between 0 and 1"),
        ("Leeds,height,tall,0.5\n", "line 2: characteristic 'height' is not one of"),
        ("Leeds,ethnic_group,white_british,0.5\n", "line 2: category 'white_british' is not"),
        ("Leeds,sex,female,0.5\nLeeds,sex,female,0.5\n", "line 3: Leeds sex female is given twice"),
        ("Leeds,sex,female,0.5\nLeeds,sex,male,0.3\n", "line 2: the sex shares of Leeds add up"),
        (",sex,female,0.5\n", "line 2: area is empty"),
    ],
)
def test_a_bad_population_file_names_the_line(rows: str, message: str) -> None:
    with pytest.raises(PopulationFileError, match="^" + message.replace("(", r"\(")):
        parse_population(HEADER + rows)


def test_missing_columns_and_percentages() -> None:
    with pytest.raises(PopulationFileError, match="line 1: missing columns: share"):
        parse_population("area,characteristic,category\n")
    population = parse_population(HEADER + "Leeds,sex,female,51%\nLeeds,sex,male,49%\n")
    assert population.of("Leeds")[Characteristic.SEX] == {"female": 0.51, "male": 0.49}


def test_the_setting_refuses_a_bad_file_naming_the_line(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from candour_search.settings import SearchSettings

    bad = tmp_path / "population.csv"
    bad.write_text(HEADER + "Leeds,sex,female,0.5\nLeeds,sex,male,x\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="line 3: share 'x' is not a number"):
        SearchSettings(population_file=bad)
