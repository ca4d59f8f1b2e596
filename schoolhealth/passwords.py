"""How guessable a password is: zxcvbn's estimate, with the words of this site added.

zxcvbn (Dropbox's estimator, the PyPI ``zxcvbn`` port) knows the common passwords of
breached sites, English words, names, keyboard walks, dates and l33t spellings. It knows
little Chinese, so :data:`SITE_WORDS` adds the pinyin that Chinese users build passwords
from (woaini, 5201314, common surnames, the school words of this site): "woaini1314520"
then counts as the handful of guesses it is.
"""

from __future__ import annotations

from collections.abc import Iterable

# zxcvbn's scale: 3 is "safely unguessable" (about 10^8 guesses or more).
MIN_SCORE = 3
# zxcvbn's time grows with length; anything past this is long enough on its own.
MAX_CHECKED_LENGTH = 64

SITE_WORDS = (
    # this site and its users' work
    "schoolhealth", "school", "health", "nurse", "admin", "administrator", "doctor",
    "xuexiao", "jiankang", "xuesheng", "hushi", "yisheng", "baojian", "tijian", "shili",
    "jizhu", "mima", "zhanghao", "denglu", "guanliyuan",
    # the favourite pinyin of Chinese passwords
    "woaini", "aini", "5201314", "1314520", "1314", "520", "iloveyou", "baobao", "laogong",
    "laopo", "zhongguo", "china", "beijing", "shanghai", "guangzhou", "shenzhen", "qwe",
    "asd", "zxc", "qaz", "wsx", "abc", "aaa", "hao", "xiaoming", "xiaohong",
    # the commonest surnames and given-name syllables
    "wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou", "xu",
    "sun", "ma", "zhu", "hu", "guo", "he", "gao", "lin", "luo", "zheng", "liang", "xie",
    "song", "tang", "han", "feng", "deng", "cao", "peng", "zeng", "xiao", "tian", "dong",
    "wei", "ming", "hua", "hong", "jun", "jie", "li", "ling", "fang", "ying", "lei", "tao",
)  # fmt: skip


def is_easily_guessed(password: str, user_inputs: Iterable[str] = ()) -> bool:
    """True when zxcvbn scores the password below :data:`MIN_SCORE`.

    ``user_inputs`` are words of the account itself (username, display name): a password
    built from them is easy for anyone who knows whose account it is.
    """
    from zxcvbn import zxcvbn

    words = [word for word in user_inputs if word] + list(SITE_WORDS)
    for word in list(words):
        parts = _split(word)
        words.extend(part for part in parts if len(part) >= 2)
        words.append("".join(parts))  # "Wang Li" is typed as "wangli"
    result = zxcvbn(password[:MAX_CHECKED_LENGTH], user_inputs=words)
    return result["score"] < MIN_SCORE


def _split(word: str) -> list[str]:
    """ "liu.fang" -> ["liu", "fang"]: the parts of a username are guessable too."""
    out, current = [], []
    for char in word.lower():
        if char.isalnum():
            current.append(char)
        elif current:
            out.append("".join(current))
            current = []
    if current:
        out.append("".join(current))
    return out
