"""Replies worded for the customer's feeling and situation, before they are ranked (LABELS.md, a good reply).

Every candidate, from the knowledge base or the reply bank, is fitted to the turn it answers:

- **In proportion to the feeling.** A delighted customer gets gladness and never an apology, a "frustration", a
  supervisor or a refund they did not ask about: candidates that open by apologising or by naming a problem ("That
  promo code expired", to a customer whose code worked), that are tagged ``empathy`` or ``escalation``, or that
  offer a refund while the conversation is not about one are left out, and a reply
  that does not open gladly gets "That's great to hear!" first. An angry, sad or afraid customer gets an apology,
  sympathy or reassurance first (``ACKNOWLEDGEMENTS``) unless the reply already opens with one.
- **Security first.** When the customer says (now or earlier in the conversation) that their account or card is
  being used by someone else (``SECURITY``), replies tagged ``security`` (lock the account, reset the password,
  stop the card) are lifted by ``SECURITY_BOOST`` and the acknowledgement is reassurance, whatever the emotion
  read; without such a concern they are not offered (locking the account of someone who forgot a password).
- **Gladness shared.** Replies tagged ``joy`` ("That's wonderful, thanks for letting us know!") are offered only to
  a glad customer, lifted by ``JOY_BOOST``.

Qt-free; a pure function of the candidate, the emotion estimate and the customer's words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from assist.domain import EmotionEstimate
from assist.replies.ranking.candidates import Candidate

ACKNOWLEDGEMENTS = {
    "anger": "I'm really sorry about this, and I understand how frustrating it is.",
    "sadness": "I'm sorry to hear that, and I'm here to help.",
    "fear": "I understand this is worrying. Let's sort it out together.",
    "joy": "That's great to hear!",
}
ACK_MIN_CONFIDENCE = 0.35
SECURITY_BOOST = 0.6
JOY_BOOST = 0.3
REFUND_INTENTS = ("get_refund", "track_refund", "check_refund_policy")
JOY_LEAVES_OUT = ("empathy", "escalation")

# what reads the feeling a reply answers: disgust at the company is answered like anger
_TONE_OF = {"anger": "anger", "disgust": "anger", "sadness": "sadness", "fear": "fear", "joy": "joy"}
_FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(?:\s|$)", re.DOTALL)
APOLOGY = re.compile(r"\b(sorry|apologi[sz]e|apologies|frustrat\w*|let you down|inconvenien\w*|"
                     r"understand your (?:frustration|concern))\b", re.IGNORECASE)
PROBLEM = re.compile(r"\b(expired|declined|missing|late|delayed|not working|isn't working|trouble|problem|error|"
                     r"failed|can't|cannot|unable|wrong|damaged|broken|already shipped)\b", re.IGNORECASE)
REFUND_OFFER = re.compile(r"\brefund\w*\b|\bmoney back\b|\breimburs\w*", re.IGNORECASE)
GLAD = re.compile(r"^\s*(?:that's|that is|so|i'm so|i'm really|how)?\s*(?:great|glad|wonderful|brilliant|"
                  r"fantastic|lovely|happy|delighted|awesome|good news|you're (?:very )?welcome|thank)",
                  re.IGNORECASE)
SECURITY = re.compile(
    r"\b(hack(?:ed|er|ing)?|(?:some|any)(?:one|body)(?: else)? (?:is |has been |was |got )?(?:in|into|using|logged "
    r"into|access\w*) my account|not me|wasn'?t me|didn'?t (?:make|place|order|buy|authori[sz]e|change)|never "
    r"(?:made|placed|ordered|authori[sz]ed|changed)|unauthori[sz]ed|fraud\w*|scam\w*|stolen|phishing|"
    r"compromised|changed my (?:email|password)|locked out)\b", re.IGNORECASE)


def tone_of(emotion: EmotionEstimate | None) -> str:
    """The feeling the reply answers ("anger", "sadness", "fear", "joy"), or "" when none is clear."""
    if emotion is None:
        return ""
    totals: dict[str, float] = {}
    for label, p in emotion.probabilities.items():
        if label in _TONE_OF:
            totals[_TONE_OF[label]] = totals.get(_TONE_OF[label], 0.0) + p
    if not totals:
        return ""
    best = max(totals, key=totals.__getitem__)
    return best if totals[best] >= ACK_MIN_CONFIDENCE else ""


def security_concern(message: str, earlier: Sequence[str] = ()) -> bool:
    """The customer says (in this message or an earlier one) someone else is in their account or using their card."""
    return any(SECURITY.search(text) for text in (message, *earlier))


def opening(text: str) -> str:
    match = _FIRST_SENTENCE.match(text.strip())
    return match.group(1) if match else text.strip()


def fit_to_turn(candidate: Candidate, emotion: EmotionEstimate | None, message: str,
                intent: str = "", earlier: Sequence[str] = ()) -> Candidate | None:
    """The candidate worded for this turn, or None when it must not be offered (an apology to a delighted
    customer). ``intent`` is the conversation's, ``earlier`` the customer's earlier turns. The added opening is
    part of the text the agent inserts."""
    if "security" in candidate.tags and not security_concern(message, earlier):
        return None
    tone = "fear" if security_concern(message) else tone_of(emotion)
    if "joy" in candidate.tags and tone != "joy":  # "That's wonderful!" is only for the glad
        return None
    text = candidate.text.strip()
    first = opening(text)
    if tone == "joy":
        if APOLOGY.search(first) or PROBLEM.search(first) or set(JOY_LEAVES_OUT) & set(candidate.tags):
            return None
        if REFUND_OFFER.search(text) and intent not in REFUND_INTENTS:
            return None
        if not GLAD.search(first):
            text = f"{ACKNOWLEDGEMENTS['joy']} {text}"
    elif tone and not APOLOGY.search(first) and not _acknowledges(first):
        text = f"{ACKNOWLEDGEMENTS[tone]} {text}"
    return candidate if text == candidate.text else replace(candidate, text=text)


def _acknowledges(first: str) -> bool:
    return bool(re.search(r"\b(understand|worr\w*|here to help|i hear you|that must be|i can imagine)\b", first,
                          re.IGNORECASE))


def fit_situation(candidate: Candidate, emotion: EmotionEstimate | None, message: str,
                  earlier: Sequence[str] = ()) -> Candidate:
    """The candidate with the ranking's extra for fitting the situation: security replies first for a security
    concern, replies tagged ``joy`` for a delighted customer."""
    if "security" in candidate.tags and security_concern(message, earlier):
        return replace(candidate, situation=SECURITY_BOOST, situation_note="security first")
    if "joy" in candidate.tags and tone_of(emotion) == "joy":
        return replace(candidate, situation=JOY_BOOST, situation_note="shares the customer's gladness")
    return candidate


__all__ = ["ACKNOWLEDGEMENTS", "APOLOGY", "SECURITY", "fit_situation", "fit_to_turn", "security_concern", "tone_of"]
