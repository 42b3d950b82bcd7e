"""The one candidate pipeline: the rank rule, the selection with a gate, scoring against the asked request."""

from lyrics.decoding.checks import check_lyrics
from lyrics.decoding.spec import LyricSpec
from lyrics.generation import Candidate
from pipeline.candidates import Scored, best, rank_key, ranked, score_all
from scorer.model import Scorer, new_scorer, scorer_prompt

SPEC = LyricSpec.from_dict({"lang": "cmn", "topic": "月光", "structure": "5A 5A"})


def scored(lyrics: str, overall: float | None = None) -> Scored:
    return Scored(Candidate(lyrics, check_lyrics(lyrics, SPEC), 10), {} if overall is None else {"overall": overall})


def test_passing_first_then_lines_rhyming_then_overall():
    rhymes = scored("床前明月光\n疑是地上霜", 3.0)  # 光 霜: both 江阳, passes
    rhymes_better = scored("举头望明月\n低头思故乡", 4.9)  # 月 乡: the second line misses A's group
    short = scored("床前明月光\n疑是霜", 1.5)  # three syllables: fails the structure, both lines rhyme
    also_passing = scored("春风吹绿江\n明月照故乡", 4.0)  # 江 乡
    assert rhymes.candidate.checks.ok and also_passing.candidate.checks.ok
    assert not short.candidate.checks.ok and not rhymes_better.candidate.checks.ok
    order = ranked([short, rhymes_better, rhymes, also_passing])
    # passing first (the higher score first), then the failing one with more lines rhyming, whatever its score
    assert [s.lyrics for s in order] == [also_passing.lyrics, rhymes.lyrics, short.lyrics, rhymes_better.lyrics]
    assert rank_key(rhymes_better)[1] == 1 and rank_key(short)[1] == 2


def test_best_is_none_when_nothing_passes_and_respects_the_gate():
    failing = [scored("床前明月\n疑是地上霜", 5.0), scored("举头望明月\n低头思故乡", 4.0)]
    assert best(failing) is None
    items = [scored("床前明月光\n疑是地上霜", 3.0), scored("春风吹绿江\n明月照故乡", 4.0), failing[0]]
    assert best(items) == 1
    assert best(items, eligible={0, 2}) == 0  # the gate leaves out the top one: the next passing candidate
    assert best(items, eligible={2}) is None
    tie = [scored("床前明月光\n疑是地上霜", 3.0), scored("春风吹绿江\n明月照故乡", 3.0)]
    assert best(tie) == 0  # a tie keeps generation order


def test_candidates_are_scored_against_the_asked_request(char_generator_dir):
    model, tokenizer = new_scorer(char_generator_dir)
    scorer = Scorer(model, tokenizer)
    asked = SPEC
    seen = LyricSpec.from_dict({"lang": "cmn", "topic": "月光（意象：明月、清霜）", "structure": "5A 5A"})
    groups = [[Candidate("床前明月光\n疑是地上霜", check_lyrics("床前明月光\n疑是地上霜", asked), 10)]]
    judged = score_all(scorer, [seen], groups, judged=[asked])[0][0].scores
    assert judged == scorer.score([(scorer_prompt(asked), "床前明月光\n疑是地上霜")])[0]
    assert judged != scorer.score([(scorer_prompt(seen), "床前明月光\n疑是地上霜")])[0]
    assert score_all(None, [asked], groups)[0][0].scores == {}
