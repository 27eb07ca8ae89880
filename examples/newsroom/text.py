"""Pure-Python text scoring used by the downloader and the batch job."""
import re

WORD = re.compile(r"[a-z']+")


def tokens(text):
    return WORD.findall(text.lower())


def score(text, keywords):
    """Keyword density with a crude n-gram bonus: pure-Python CPU work."""
    words = tokens(text)
    total = 0.0
    for i in range(len(words)):
        for j in range(i + 1, min(i + 4, len(words))):
            if words[i] in keywords and words[j] in keywords:
                total += 1.0 / (j - i)
    return total / (len(words) or 1)
