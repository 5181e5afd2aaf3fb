"""Chat text as the text model reads it: emoji, emoticons, elongation, repeated punctuation and shouting kept as
signal instead of lost (MiniLM's vocabulary has no emoji: they were [UNK]; it is uncased: capitals vanished).

``model_input`` is the one normalisation, used by training (``assist.training.train_text``) and at run time (both
text-model runtimes), so the model reads at run time exactly what it learnt from. Emoji become their CLDR names
through the ``emoji`` library ("🎉" -> "party popper"), common emoticons their words (":)" -> "smiling face"),
letters repeated three times or more are cut to two ("sooooo" -> "soo"), runs of "!" or "?" to three, and a message
written in capitals gets a trailing "(in capitals)" so the uncased model still sees the shouting.
"""

from __future__ import annotations

import re

NORMALISATION_VERSION = 1  # recorded with a trained model (config "text_normalisation")

EMOTICONS = {
    ":)": "smiling face", ":-)": "smiling face", "=)": "smiling face", ":]": "smiling face",
    ":D": "grinning face", ":-D": "grinning face", "xD": "laughing face", "XD": "laughing face",
    ";)": "winking face", ";-)": "winking face",
    ":(": "sad face", ":-(": "sad face", "=(": "sad face", ":[": "sad face",
    ":'(": "crying face", ":'-(": "crying face",
    ":/": "confused face", ":-/": "confused face", ":S": "confused face",
    ":P": "face with tongue", ":-P": "face with tongue", ":p": "face with tongue",
    ":O": "surprised face", ":-O": "surprised face", ":o": "surprised face",
    "<3": "red heart", "</3": "broken heart", ">:(": "angry face", "D:": "anguished face",
}
_EMOTICON = re.compile(r"(?<![\w:/])(" + "|".join(re.escape(e) for e in sorted(EMOTICONS, key=len, reverse=True))
                       + r")(?![\w/])")
_ELONGATED = re.compile(r"([A-Za-z])\1{2,}")
_PUNCT_RUN = re.compile(r"([!?])[!?]{3,}")
_CAPS_WORD = re.compile(r"\b[A-Z][A-Z']{2,}\b")
_WORD = re.compile(r"\b[A-Za-z][A-Za-z']+\b")
_SPACES = re.compile(r"\s+")


def _emoji_names(text: str) -> str:
    import emoji

    if emoji.emoji_count(text) == 0:
        return text
    named = emoji.demojize(text, delimiters=(" ", " "))
    # the names' underscores and skin-tone/variation suffixes as plain words: "thumbs_up_medium_skin_tone" -> words
    return re.sub(r"(?<=\w)_(?=\w)", " ", named)


def shouting(text: str) -> bool:
    """Written in capitals: at least three words of three or more capital letters that are most of its words."""
    words = _WORD.findall(text)
    caps = _CAPS_WORD.findall(text)
    return len(caps) >= 3 and len(caps) >= 0.6 * len(words)


def model_input(text: str) -> str:
    """The chat signals of ``text`` as words the text model knows (see the module docstring); whitespace collapsed."""
    shout = shouting(text)
    text = _EMOTICON.sub(lambda m: f" {EMOTICONS[m.group(1)]} ", text)
    text = _emoji_names(text)
    text = _ELONGATED.sub(r"\1\1", text)
    text = _PUNCT_RUN.sub(lambda m: m.group(0)[:3], text)
    text = _SPACES.sub(" ", text).strip()
    return f"{text} (in capitals)" if shout else text


__all__ = ["EMOTICONS", "NORMALISATION_VERSION", "model_input", "shouting"]
