"""Language identification of article text.

Alphabets, letter frequencies and frequent words settle almost every text in well under a
millisecond. langdetect costs milliseconds a call and is random unless seeded, so it only
weighs the close calls, on a bounded sample of the text, with those figures as its priors.
"""

from __future__ import annotations

import heapq
import math
import os
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Collection
from functools import cache
from typing import NamedTuple

from langdetect import DetectorFactory, LangDetectException
from langdetect.detector_factory import PROFILES_DIRECTORY

UNDETERMINED = "und"

# The dominant language of a page shows well within its first 20,000 characters.
MAX_CHARS = 20_000
# langdetect's cost grows with the text it gets; this much settles a close call.
SAMPLE_CHARS = 1_000

# Scripts written by one language, or by one far more than by any other.
SCRIPT_LANGUAGES = {
    "ARMENIAN": "hy",
    "BENGALI": "bn",
    "CJK": "zh",
    "ETHIOPIC": "am",
    "GEORGIAN": "ka",
    "GREEK": "el",
    "GUJARATI": "gu",
    "GURMUKHI": "pa",
    "HANGUL": "ko",
    "HEBREW": "he",
    "KANA": "ja",
    "KANNADA": "kn",
    "KHMER": "km",
    "LAO": "lo",
    "MALAYALAM": "ml",
    "MYANMAR": "my",
    "SINHALA": "si",
    "TAMIL": "ta",
    "TELUGU": "te",
    "THAI": "th",
}

# Per cent of the letters of running text, for the letters that tell the Cyrillic alphabets
# apart; a letter missing from a language's list is not in its alphabet.
CYRILLIC_LETTER_SHARES = {
    "ru": "и 7.4 й 1.2 ы 1.9 ь 1.7 ъ 0.04 э 0.3 ю 0.6 я 2.0 щ 0.4 ё 0.1",
    "uk": "и 6.2 і 5.6 ї 0.8 є 0.5 ґ 0.02 й 1.2 ь 1.5 ю 0.8 я 2.3 щ 0.4",
    "be": "і 6.5 ў 2.0 ы 4.5 э 1.2 ё 0.6 й 1.0 ь 1.6 ю 0.6 я 3.0",
    "bg": "и 8.5 й 0.9 ъ 2.0 ь 0.05 щ 0.8 ю 0.3 я 2.2",
    "sr": "и 9.5 ј 5.0 љ 0.5 њ 0.6 ђ 0.2 ћ 0.9 џ 0.05",
    "mk": "и 8.0 ј 2.5 љ 0.4 њ 0.6 ѓ 0.3 ќ 0.6 ѕ 0.1 џ 0.05",
    "kk": "и 3.5 ы 5.0 і 4.0 ә 2.5 ғ 1.5 қ 3.5 ң 1.0 ө 0.8 ұ 1.2 ү 1.5 һ 0.05 й 0.7 ь 0.3 "
    "э 0.2 ю 0.2 я 0.5",
    "tt": "и 3.0 ы 3.5 ә 4.0 ө 1.5 ү 2.5 җ 0.6 ң 0.9 һ 0.5 й 1.5 ь 0.5 э 1.0 ю 0.3 я 1.0 ъ 0.3",
    "ba": "и 3.0 ы 3.0 ә 3.0 ғ 1.0 ҙ 2.0 ҡ 2.0 ҫ 1.0 ң 1.0 ө 1.0 ү 2.0 һ 1.5 й 1.5 я 1.0 ь 0.2",
    "ky": "и 3.0 ы 6.0 ң 2.0 ө 2.0 ү 3.5 й 1.0 э 1.0 я 0.3 ь 0.1",
    "tg": "и 6.0 ӣ 2.0 ғ 1.0 қ 1.5 ӯ 1.0 ҳ 2.0 ҷ 1.0 й 1.0 ё 1.0 я 1.0 э 0.5 ъ 0.5 ю 0.3",
    "uz": "и 7.0 ў 2.0 қ 1.5 ғ 1.0 ҳ 1.5 й 1.0 ъ 0.5 я 0.5 ё 0.3 э 0.3 ю 0.2",
    "mn": "и 5.0 ө 2.0 ү 2.0 ы 2.0 э 2.0 й 1.0 ь 1.0 я 0.7 ё 0.5 ю 0.2",
    "cv": "и 4.0 ӑ 3.0 ӗ 3.0 ҫ 2.0 ӳ 0.5 ы 2.5 ь 2.0 й 1.0 я 1.0 э 0.3",
}
# Per cent for a letter outside the alphabet: names and quotations bring in a few.
FOREIGN_LETTER_SHARE = 0.02

# Frequent words that are rare or absent in the neighbouring languages of the same script.
CYRILLIC_WORDS = {
    "ru": "что это как он она они его её ее их был была было были быть будет будут который "
    "которая которое которые которых которой которого которым когда только уже ещё еще также "
    "чтобы если можно может очень нет есть где этот эта эти этого этой этом всё всего всех "
    "всем более однако мы вы ты себя свой своей своих сейчас потом тоже лишь года году к же "
    "бы для через меня мне тебя ему ей кто чем тут здесь вот надо нужно тогда теперь сегодня "
    "ничего тем",
    "uk": "і й що це як та від його її їх він вона вони який яка яке які щоб також вже ще був "
    "була було були бути буде будуть має коли лише тільки після між цього цей ця ці цих року "
    "для через з про ми мене мені йому їй хто чи де тут треба але дуже ось саме чому бо хоч "
    "щодо проте зараз",
    "be": "і ў з гэта як ад па але быў была было былі яго яе іх які якая якое якія таксама пры "
    "таму калі толькі ужо яшчэ пасля паміж праз гэтага гэты гэтая што для ці яны ён яна мы "
    "ты вы каб усе вось можа яму няма трэба цяпер вельмі дзе нават пра да",
    "bg": "е са се да че ще този тази това тези които който която което след във със към през "
    "още беше бяха бе бил била били ги го му също вече обаче трябва ако както като пред тя "
    "те нея него тях най има няма година години как така всички всичко всеки някой някои "
    "нещо когато защото затова дори само сега тук аз ние вие си според чрез срещу преди един "
    "една едно",
    "sr": "је су у да се који која које којих ће још као када само између после овај ова ово "
    "тако био била било били из године али што има нису није од према кроз око ја он она оно "
    "они о свој своје својих овог тог том бити смо сте током си",
    "mk": "е се да во со од кој која кое кои ќе беше биле бил била било го ги му ја таа тој "
    "тие овој оваа ова како меѓу уште така само година годината има што али ако дека сите "
    "кога веќе преку пред многу нив нивните тоа бидејќи си сега ние вие според преди еден "
    "една едно",
    "kk": "және мен бен пен бұл осы үшін деп болып болды болады бар жоқ оның ол олар біз сол "
    "деген туралы арқылы бойынша жылы ретінде сияқты тек ең ал бірақ немесе",
    "tt": "һәм белән бу ул алар өчен турында буенча иде булып булды бар юк аның шул инде генә "
    "гына кебек яки ләкин дип дә",
}
# Frequent word endings: reflexive verbs, definite articles, nouns, infinitives.
CYRILLIC_ENDINGS = {
    "ru": "ся сь ого его ому ему ский ская ское ских ском",
    "uk": "ся сь ого ому ння ати ити",
    "be": "ся сь цца нне ога ская ць",
    "bg": "ите ото ето ата ски",
    "sr": "ије ог ати ити ски",
    "mk": "ите ото ето ата ски",
}

# Frequent words of English, German and French; "" stands for the other Latin-script
# languages, whose words keep their texts from being taken for one of those three.
LATIN_WORDS = {
    "en": "the and of to that for with by at are this from have which has were they their "
    "you he she his her we been can its would there who what when should these had our your "
    "about after into than them it be is not but all more may other only such some if any "
    "i my me us just must",
    "de": "der die das und ist nicht ein eine einen einem einer eines zu den dem des von mit "
    "sich auf für im auch es sie ich wir werden wird wurde wurden sind bei nach aus dass daß "
    "noch wie oder aber nur um vor über zum zur durch kann hat haben sein mehr schon wenn "
    "diese dieser dieses war was er",
    "fr": "le la les des du et est un une dans pour pas sur au aux qui que ce cette ces il "
    "elle ils elles nous vous je ne sont été avec plus mais ou où leur leurs sa ses être fait "
    "aussi très peut tout tous comme après entre depuis selon par en de l d qu",
    "": "de la el los las en que y del al con por para es un una il di che e non della het "
    "van een dat op te voor met zijn niet o os da dos em não uma se um w z na się nie jest "
    "den er og som och att på af",
}
LATIN_ENDINGS = {
    "en": "ing ed ly ies ness",
    "de": "ung keit heit lich isch chen",
    "fr": "eux aux ait aient",
}
# Letters that English does without, by the languages that write them most.
LATIN_LETTERS = {
    "de": "äöüß",
    "fr": "éèêàâçùûîïôœë",
    "": "ñáíóúãõìòåæøąęłśźżćńčšžřěůýğşıőűțșă",
}

# Log prior odds against Russian and English, the languages these portals publish in.
# Cyrillic text there is Russian unless its letters or words say otherwise, so the other
# Cyrillic languages start further behind (by MARGIN or more) than the other Latin-script
# ones, whose short texts go to langdetect.
LANGUAGE_PRIORS = {"ru": 0.0, "uk": -2.0, "en": 0.0, "de": -1.0, "fr": -1.0, "": -2.0}
OTHER_LANGUAGE_PRIOR = -3.0
# Log-likelihood of a frequent word, of a frequent word ending, and of a letter that
# English does without, for the languages they belong to.
WORD_WEIGHT = 2.0
ENDING_WEIGHT = 1.0
LATIN_LETTER_WEIGHT = 1.0
# A language this far ahead wins without langdetect.
MARGIN = 2.0
# Past this lead no amount of further evidence changes the answer in practice; long texts
# reach it from their letters alone, which saves looking at their words.
DECISIVE_LEAD = 10.0

_WORD = re.compile(r"[^\W\d_]+")
# Ukrainian and Belarusian texts often type their і as the Latin i.
_LATIN_I_IN_CYRILLIC = re.compile(r"(?<=[\u0400-\u04ff])i|i(?=[\u0400-\u04ff])")
_LANGDETECT_LANGUAGES = frozenset(os.listdir(PROFILES_DIRECTORY)) | {""}
_ENDING_SIZES = (2, 3, 4, 5)

Scores = dict[str, float]
LanguagesByWord = dict[str, tuple[str, ...]]


def _parse_shares(letters: str) -> dict[str, float]:
    fields = letters.split()
    return dict(zip(fields[::2], map(float, fields[1::2]), strict=True))


def _letter_model(
    shares: dict[str, float], telling: Collection[str]
) -> tuple[dict[str, float], float]:
    """Log share of each telling letter (foreign ones included), and of all other letters."""
    log_shares = {ch: math.log(shares.get(ch, FOREIGN_LETTER_SHARE) / 100) for ch in telling}
    return log_shares, math.log(1 - sum(shares.values()) / 100)


def _languages_by_word(words_by_language: dict[str, str]) -> LanguagesByWord:
    """Word (or ending) -> the languages that use it often."""
    languages: dict[str, list[str]] = {}
    for lang, words in words_by_language.items():
        for word in words.split():
            languages.setdefault(word, []).append(lang)
    return {word: tuple(langs) for word, langs in languages.items()}


_CYRILLIC_SHARES = {lang: _parse_shares(text) for lang, text in CYRILLIC_LETTER_SHARES.items()}
_CYRILLIC_TELLING_LETTERS = frozenset().union(*_CYRILLIC_SHARES.values())
_CYRILLIC_MODELS = {
    lang: _letter_model(shares, _CYRILLIC_TELLING_LETTERS)
    for lang, shares in _CYRILLIC_SHARES.items()
}


@cache
def _script(ch: str) -> str:
    """Unicode script of a letter, from the first word of its name ("" for a non-letter)."""
    if not ch.isalpha():
        return ""
    script = unicodedata.name(ch, "").partition(" ")[0]
    return "KANA" if script in ("HIRAGANA", "KATAKANA") else script


def detect_language(text: str, expected: str = "") -> str:
    """ISO 639-1 code of the dominant language of `text`, or `und` when it has no words.

    The `expected` language (a page's, for its title) wins every close call it is in: a
    headline of a few words rarely tells English from Welsh or Russian from Bulgarian on
    its own, and is far more often in its page's language than in the runner-up.
    """
    text = text[:MAX_CHARS].lower()
    letters_by_script: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for ch, n in Counter(text).items():
        script = _script(ch)
        if script:
            letters_by_script[script][ch] = n
    if not letters_by_script:
        return UNDETERMINED
    script, letters = max(letters_by_script.items(), key=lambda item: item[1].total())
    model = _SCRIPT_MODELS.get(script)
    if model:
        scores = model.letter_scores(text, letters)
        _weigh_words(scores, text, model)
        return _decide(scores, text, script, expected)
    if script == "CJK" and "KANA" in letters_by_script:
        return "ja"
    return (
        SCRIPT_LANGUAGES.get(script)
        or _langdetect(_sample(text, script), {"": 1.0})
        or UNDETERMINED
    )


def _cyrillic_letter_scores(text: str, letters: Counter[str]) -> Scores:
    """Prior plus log-likelihood of the letter counts, per Cyrillic-script language."""
    if "i" in text:
        letters["і"] += len(_LATIN_I_IN_CYRILLIC.findall(text))
    telling = {ch: n for ch, n in letters.items() if ch in _CYRILLIC_TELLING_LETTERS}
    rest = letters.total() - sum(telling.values())
    return {
        lang: LANGUAGE_PRIORS.get(lang, OTHER_LANGUAGE_PRIOR)
        + rest * log_rest
        + sum(n * log_shares[ch] for ch, n in telling.items())
        for lang, (log_shares, log_rest) in _CYRILLIC_MODELS.items()
    }


def _latin_letter_scores(text: str, letters: Counter[str]) -> Scores:
    """Prior plus the letters English does without, for English, German, French and the rest."""
    scores = {lang: LANGUAGE_PRIORS.get(lang, OTHER_LANGUAGE_PRIOR) for lang in LATIN_WORDS}
    for lang, marks in LATIN_LETTERS.items():
        scores[lang] += LATIN_LETTER_WEIGHT * sum(letters[ch] for ch in marks)
    return scores


class _ScriptModel(NamedTuple):
    letter_scores: Callable[[str, Counter[str]], Scores]
    # Whether the letters weigh every language (or only speak for some) and so may decide.
    letters_can_decide: bool
    words: LanguagesByWord
    endings: LanguagesByWord


_SCRIPT_MODELS = {
    "CYRILLIC": _ScriptModel(
        _cyrillic_letter_scores,
        True,
        _languages_by_word(CYRILLIC_WORDS),
        _languages_by_word(CYRILLIC_ENDINGS),
    ),
    "LATIN": _ScriptModel(
        _latin_letter_scores,
        False,
        _languages_by_word(LATIN_WORDS),
        _languages_by_word(LATIN_ENDINGS),
    ),
}


def _weigh_words(scores: Scores, text: str, model: _ScriptModel) -> None:
    """Adds the evidence of frequent words, then of word endings, while it can matter."""
    if model.letters_can_decide and _lead(scores) >= DECISIVE_LEAD:
        return
    counts = Counter(_WORD.findall(text))
    for word, n in counts.items():
        for lang in model.words.get(word, ()):
            scores[lang] += n * WORD_WEIGHT
    if _lead(scores) >= DECISIVE_LEAD:
        return
    for word, n in counts.items():
        for size in _ENDING_SIZES:
            if len(word) > size + 1:
                for lang in model.endings.get(word[-size:], ()):
                    scores[lang] += n * ENDING_WEIGHT


def _lead(scores: Scores) -> float:
    first, second = heapq.nlargest(2, scores.values())
    return first - second


def _decide(scores: Scores, text: str, script: str, expected: str) -> str:
    """The clear leader, or else the expected language when it is close behind, or else
    langdetect's choice with the scores as prior odds."""
    best = max(scores, key=scores.__getitem__)
    if expected and expected in scores and scores[best] - scores[expected] < MARGIN:
        return expected
    rivals = [
        lang
        for lang, score in scores.items()
        if lang != best and lang in _LANGDETECT_LANGUAGES and scores[best] - score < MARGIN
    ]
    if best and (best not in _LANGDETECT_LANGUAGES or not rivals):
        return best
    odds = {lang: math.exp(score - scores[best]) for lang, score in scores.items()}
    return _langdetect(_sample(text, script), odds) or best or UNDETERMINED


def _sample(text: str, script: str) -> str:
    """The first words of the text in the given script, about SAMPLE_CHARS long."""
    words: list[str] = []
    size = 0
    for word in _WORD.findall(text):
        if _script(word[0]) == script:
            words.append(word)
            size += len(word) + 1
            if size >= SAMPLE_CHARS:
                break
    return " ".join(words)


@cache
def _detector_factory() -> DetectorFactory:
    """langdetect's profiles, loaded once (slow) and seeded so that its answers repeat."""
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(0)
    return factory


def _langdetect(sample: str, odds: Scores) -> str:
    """langdetect's answer given prior odds ("" for all languages not named together), or ""."""
    detector = _detector_factory().create()
    unnamed = [lang for lang in detector.langlist if lang not in odds]
    other = odds.get("", 0.0) / max(len(unnamed), 1)
    detector.set_prior_map({lang: odds.get(lang, other) for lang in detector.langlist})
    detector.append(sample)
    try:
        lang = detector.detect()
    except LangDetectException:
        return ""
    return "" if lang == detector.UNKNOWN_LANG else lang.partition("-")[0]
