"""Evidence rules for ticking procedure steps from a live conversation (pure Python, regular expressions).

``detect`` runs one rule per step id (ABCD action ids such as ``verify-identity``) over the latest turn and
the ``Facts`` gathered so far (``assist.replies.procedures.facts``), and returns the steps that the
conversation now shows as done, each with a short piece of evidence. The rules, in brief:

- identity: ``pull-up-account`` a full name or account id given; ``verify-identity`` two of username / email /
  phone / order id / zip / account id / PIN (or full name + order id, the form ABCD's order flows use);
  ``validate-purchase`` username + email + order id. An agent saying it was done counts too.
- ``record-reason``: the customer answered an agent question about the reason / item / method / how long,
  or stated a typical reason unprompted ("wrong size", "it arrived damaged", "a competitor has it cheaper").
- ``enter-details``: the customer gave a detail the procedure's identity steps do not use (address, PIN,
  security answer, phone, ...); or the agent asked them to check the card expiry / stock (troubleshooting).
- ``membership``: a membership level (gold / silver / bronze / guest) stated by the customer or the agent.
- ``shipping-status``: a shipping state ("in transit", "delivered", ...) in the chat or on screen.
- agent actions (``offer-refund``, ``make-password``, ``send-link``, ``update-account``, ``update-order``,
  ``notify-team``, ``ask-the-oracle``, ``promo-code``, ``make-purchase``, ``subscription-status``,
  ``try-again``, ``log-out-in``, ``instructions``, ``end-conversation``, ``search-faq``): an agent turn
  whose wording shows it, e.g. "I've issued a refund", "I'll send you a link", "let me check our system".
  Questions ("would you like me to update ...?") and negations ("I can't offer a refund") do not count,
  except that instructions may be put as questions ("can you log out and back in?") and
  ``end-conversation`` is an apology for what cannot be done.
- FAQ flows: ``search-<topic>`` ticks once the FAQ was searched and the customer's words name the topic;
  ``select-faq`` is an agent answer (a statement naming the topic, or answer-like: a number, "you can",
  "we offer", ... once the FAQ was searched or the customer named the topic); it implies the other two.
- fallback, for every step: an agent statement containing every content word of the step's label (two
  or more words for the steps above; any for a button this module does not know).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from assist.replies.procedures.facts import (
    ACK_ONLY,
    AGENT,
    CUSTOMER,
    EMAIL,
    ID_KINDS,
    PHONE,
    SHIPPING_STATES,
    Facts,
    Turn,
    short,
    words,
)

_I = re.IGNORECASE
_SENTENCES = re.compile(r"(?<=[.!?])\s+")
_ASK_REASON = re.compile(
    r"reason|\bwhy\b|what happened|what'?s (?:wrong|the (?:issue|problem))|what (?:is|was) the (?:issue|problem)|"
    r"how did you (?:hear|find|learn)|heard about|where did|which (?:item|product|one|method)|"
    r"what (?:item|product|brand)|"
    r"how long|how many days|refund (?:method|to)|how would you like|prefer|current (?:address|name|phone|number|"
    r"payment)|(?:old|previous) (?:address|name|number)|payment method|originat", _I)
_STATED_REASON = re.compile(
    r"wrong (?:size|colou?r|item)|too (?:big|small|large|tight|loose|long|short)|\bstain|"
    r"damag|broken|defect|doesn'?t fit|competitor|cheaper|lower price|price (?:dropped|went down)", _I)


# --- rules ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Context:
    """The procedure a rule runs for (its step ids) and the steps already done."""

    step_ids: frozenset[str]
    done: frozenset[str]


Rule = Callable[[Turn | None, Facts, Context], str | None]


def _quote(turn: Turn) -> str:
    return f"{turn.role} turn {turn.number}: “{short(turn.text)}”"


def _slots_evidence(facts: Facts, kinds: Iterable[str]) -> str:
    """"full name given (customer turn 2: “Crystal Minh”)" or "username + email + order id given (turns 9–11)"."""
    given = [(k, facts.slots[k]) for k in kinds]
    names = " + ".join(k.replace("_", " ") for k, _ in given)
    if len(given) == 1:
        return f"{names} given ({given[0][1].source} turn {given[0][1].turn}: “{given[0][1].quote}”)"
    turns = sorted(g.turn for _, g in given)
    span = f"turn {turns[0]}" if turns[0] == turns[-1] else f"turns {turns[0]}–{turns[-1]}"
    return f"{names} given ({span})"


def _agent_says(pattern: re.Pattern[str], *, statements_only: bool = True, negatable: bool = True) -> Rule:
    """A rule that ticks on an agent sentence matching ``pattern``: not a question (unless ``statements_only``
    is off), not negated just before the match ("I can't offer a refund") unless ``negatable`` is off."""

    def rule(turn: Turn | None, facts: Facts, ctx: Context) -> str | None:
        if turn is None or turn.role != AGENT:
            return None
        for sentence in _SENTENCES.split(turn.text):
            if statements_only and sentence.rstrip().endswith("?"):
                continue
            m = pattern.search(sentence)
            if not m:
                continue
            end = m.end() if m.end() > m.start() else len(sentence)  # a look-ahead pattern: the whole sentence
            if not negatable or not _NEGATED.search(sentence[max(0, m.start() - 30): end]):
                return _quote(turn)
        return None

    return rule


_NEGATED = re.compile(r"\b(?:can'?t|cannot|can not|unable to|not able to|won'?t|will not|don'?t|do not|no longer)\b",
                      _I)
_DONE_VERB = r"(?:updated|changed|added|removed|extended|renewed|cancel+ed|corrected|modified|reinstated|waived|reset)"
_WILL_DO = r"(?:i'?ve|i have|i will|i'?ll|let me|i am going to|i'?m going to|going to|has been|have been|is now|i just)"


def _first_of(facts: Facts, groups: Iterable[tuple[str, ...]]) -> str | None:
    for kinds in groups:
        if all(k in facts.slots for k in kinds):
            return _slots_evidence(facts, kinds)
    return None


def _pull_up(turn: Turn | None, facts: Facts, ctx: Context) -> str | None:
    return _first_of(facts, [("full_name",), ("account_id",)]) or _PULLED_UP(turn, facts, ctx)


_PULLED_UP = _agent_says(re.compile(r"pull(?:ed|ing)? up (?:your|the) account|(?:found|located|have|see|got) your "
                                    r"account|account (?:is )?(?:now )?(?:up|open|pulled)", _I))


def _verify(turn: Turn | None, facts: Facts, ctx: Context) -> str | None:
    have = [k for k in ID_KINDS if k in facts.slots]
    if len(have) >= 2:
        return _slots_evidence(facts, have[:3])
    return _first_of(facts, [("full_name", "order_id")]) or _VERIFIED(turn, facts, ctx)


_VERIFIED = _agent_says(re.compile(r"(?:verified|confirmed) (?:your )?(?:identity|account|details)|identity (?:is |has "
                                   r"been )?(?:verified|confirmed)|you(?:'re| are) (?:now )?verified", _I))


def _validate(turn: Turn | None, facts: Facts, ctx: Context) -> str | None:
    evidence = _first_of(facts, [("username", "email", "order_id")])
    if evidence or sum(k in facts.slots for k in ("username", "email", "order_id")) < 2:
        return evidence
    return _VALIDATED(turn, facts, ctx)


_VALIDATED = _agent_says(re.compile(r"(?:purchase|order) (?:is|has been|was) (?:valid|validated|verified|confirmed)|"
                                    r"(?:validat|verifi|confirm)(?:ed|ing) (?:your|the) (?:purchase|order)|"
                                    r"everything (?:is )?in order", _I))


_QUESTION_START = re.compile(r"^(?:\W*(?:ok(?:ay)?|so|and|sure|thanks?|great|alright)\W+)*(?:what|why|which|how|where|"
                             r"when|may|can|could|would|will|do|did|does|is|are|was|please|tell)\b", _I)


def _questions(text: str) -> str:
    """The sentences of an agent's turns that ask something (ABCD agents often drop the "?")."""
    sentences = _SENTENCES.split(text)
    return " ".join(s for s in sentences if s.rstrip().endswith("?") or _QUESTION_START.match(s))


def _record_reason(turn: Turn | None, facts: Facts, ctx: Context) -> str | None:
    if turn is None or turn.role != CUSTOMER or ACK_ONLY.match(turn.text.strip()):
        return None
    content = EMAIL.sub("", PHONE.sub("", turn.text))
    if _ASK_REASON.search(_questions(turn.asked)) and re.search(r"[A-Za-z]{2,}|\d", content):
        return _quote(turn)
    return _quote(turn) if _STATED_REASON.search(turn.text) else None


_IDENTITY_USES = {"pull-up-account": {"full_name", "account_id"},
                  "validate-purchase": {"username", "email", "order_id"},
                  "verify-identity": set(ID_KINDS) | {"full_name"}}
_CHECK_SOMETHING = _agent_says(re.compile(r"check (?:the |if |whether |your )?.{0,30}(?:expir|stock)", _I),
                               statements_only=False)
_DETAILS_ENTERED = _agent_says(re.compile(r"(?:entered|noted|recorded|added) (?:your|the|that) (?:details|address|"
                                          r"information|info|number)", _I))


def _enter_details(turn: Turn | None, facts: Facts, ctx: Context) -> str | None:
    if turn is not None and turn.role == CUSTOMER:
        taken: set[str] = set()
        for step, kinds in _IDENTITY_USES.items():
            if step in ctx.step_ids and step not in ctx.done:
                taken |= kinds
        asked = ["address", "pin", "security_answer", "phone", "email", "username", "account_id"]
        if "offer-refund" not in ctx.step_ids:
            asked.append("amount")
        for kind in asked:
            given = facts.latest.get(kind)
            if given and given.turn == turn.number and kind not in taken:
                return f"{kind.replace('_', ' ')} given: {_quote(turn)}"
        return None
    return _CHECK_SOMETHING(turn, facts, ctx) or _DETAILS_ENTERED(turn, facts, ctx)


def _membership(turn: Turn | None, facts: Facts, ctx: Context) -> str | None:
    if "membership_level" in facts.slots:
        return _slots_evidence(facts, ["membership_level"])
    return _MEMBER_STATED(turn, facts, ctx)


_MEMBER_STATED = _agent_says(re.compile(r"\b(?:gold|silver|bronze|guest) (?:member|level|status|customer)", _I))


def _shipping_status(turn: Turn | None, facts: Facts, ctx: Context) -> str | None:
    if "shipping_state" in facts.slots:
        return _slots_evidence(facts, ["shipping_state"])
    if turn is not None and SHIPPING_STATES.search(turn.text) and not turn.text.rstrip().endswith("?"):
        return _quote(turn)
    return None


def _subscription_status(turn: Turn | None, facts: Facts, ctx: Context) -> str | None:
    if "subscription_state" in facts.slots:
        return _slots_evidence(facts, ["subscription_state"])
    return _SUBSCRIPTION_STATED(turn, facts, ctx)


_SUBSCRIPTION_STATED = _agent_says(re.compile(
    r"(?:subscription|bill|membership|payment)\b.{0,60}\b(?:active|inactive|cancel|due|paid|overdue|expir|renew|\$\d)|"
    r"\b(?:active|cancel+ed|due|paid|overdue|expired)\b.{0,40}\bsubscription", _I))

TOPIC_WORDS: dict[str, re.Pattern[str]] = {
    "boots": re.compile(r"\bboots?\b", _I), "shirt": re.compile(r"\bshirts?\b", _I),
    "jeans": re.compile(r"\bjeans\b", _I), "jacket": re.compile(r"\bjackets?\b|\bcoats?\b", _I),
    "pricing": re.compile(r"\bpric|\bcost|how much|expensive|cheap|\bsale\b|discount|\$", _I),
    "membership": re.compile(r"\bmember|\bgold\b|\bsilver\b|\bbronze\b|\brewards?\b|\bperks?\b", _I),
    "timing": re.compile(r"\bwhen\b|how long|\bexpir|\bdays?\b|\bhours?\b|\bweeks?\b|\btime\b|\bdeliver|\barriv|"
                         r"\bsoon\b", _I),
    "policy": re.compile(r"\bpolic|\breturn|\bexchang|\bcancel|\brules?\b|\ballowed\b|\bcan i\b", _I),
}
_HOLDING = re.compile(r"let me|one moment|pleasure|glad|happy to|a moment|just a (?:sec|second|minute)|hold on|"
                      r"checking|thank|welcome|anything else|have a (?:nice|good|great)", _I)
_ANSWER_CUE = re.compile(r"\d|\byou (?:can|should|will|may|need)\b|\bwe (?:offer|have|accept|do|don'?t|ship|give)\b|"
                         r"\b(?:it|they|this|these) (?:is|are|comes?|has|have|will)\b|\ball\b|\bevery\b|\bour\b|"
                         r"\bwithin\b|\bavailable\b|^(?:yes|no)\b", _I)


def topic_of(step_id: str) -> str | None:
    """The FAQ topic a toggle step is for ("search-timing" -> "timing"), else None."""
    topic = step_id.removeprefix("search-")
    return topic if step_id.startswith("search-") and topic in TOPIC_WORDS else None


def _select_faq(turn: Turn | None, facts: Facts, ctx: Context) -> str | None:
    """An agent answer: a statement naming the topic, or answer-like (a number, "you can", "we offer", ...)
    once the FAQ was searched or the customer's question named the topic."""
    if turn is None or turn.role != AGENT or not facts.customer_text or _HOLDING.search(turn.text):
        return None
    topics = [TOPIC_WORDS[t] for s in ctx.step_ids if (t := topic_of(s))]
    asked = "search-faq" in ctx.done or any(p.search(facts.customer_text) for p in topics)
    for sentence in _SENTENCES.split(turn.text):
        if sentence.rstrip().endswith("?") or len(words(sentence)) < 5:
            continue
        if any(p.search(sentence) for p in topics) or asked and _ANSWER_CUE.search(sentence):
            return _quote(turn)
    return None


def _topic_rule(topic: str) -> Rule:
    """The FAQ toggle for ``topic``: once the FAQ was searched, the customer's words name the topic."""

    def rule(turn: Turn | None, facts: Facts, ctx: Context) -> str | None:
        if "search-faq" not in ctx.done:
            return None
        m = TOPIC_WORDS[topic].search(facts.customer_text)
        return f"the customer asked about {topic} (“{m.group(0)}”)" if m else None

    return rule


def _agent(pattern: str) -> Rule:
    """An agent statement showing the action ("I've issued a refund")."""
    return _agent_says(re.compile(pattern, _I))


def _instruct(pattern: str) -> Rule:
    """An instruction to the customer counts even when put as a question ("can you log out and back in?")."""
    return _agent_says(re.compile(pattern, _I), statements_only=False)


RULES: dict[str, Rule] = {
    "pull-up-account": _pull_up,
    "verify-identity": _verify,
    "validate-purchase": _validate,
    "record-reason": _record_reason,
    "enter-details": _enter_details,
    "membership": _membership,
    "shipping-status": _shipping_status,
    "subscription-status": _subscription_status,
    "offer-refund": _agent(r"(?:offer|issue|process|give|send|get)(?:ing|ed)? (?:you )?(?:a |the |your |an )?(?:full |"
                           r"partial |total )?refund|refund(?:ed)? (?:you|of \$?\d|for \$?\d|\$\d)|"
                           r"\brefund (?:has been|is "
                           r"being|will be) (?:issued|processed|sent)|i(?:'ve| have| will|'ll| can) refund|money back|"
                           r"reimburs"),
    "make-password": _agent(r"(?:new|temporary|reset|generat\w*|creat\w*) (?:a )?(?:new )?password|password (?:is|has "
                            r"been|:)|(?:generate|create|make) (?:you )?a new one"),
    "send-link": _agent(r"(?:send|sent|sending|here'?s|here is|click|follow|emailed|texted)\b.{0,40}\blink|"
                        r"\blink\b.{0,30}"
                        r"(?:sent|to your|on its way)|https?://"),
    "update-account": _agent(rf"{_DONE_VERB}\b.{{0,60}}\b(?:account|address|name|phone|number|payment|subscription|"
                             rf"service|card|paypal)|{_WILL_DO} (?:update|change|add|remove|extend|renew|reinstate)\w* "
                             rf"(?:your|the|that)"),
    "update-order": _agent(rf"{_DONE_VERB}\b.{{0,60}}\b(?:order|shipping|shipment|delivery|fee|date|item|method)|"
                           rf"{_WILL_DO} (?:update|change|waive|upgrade|move|cancel|reschedul)\w* (?:your|the|that)|"
                           r"\b(?:by mail|in store|drop.?off (?:center|location))|credit (?:back )?(?:to|on|into) your "
                           r"account|ship (?:it|them) (?:tomorrow|next week)|new order"),
    "notify-team": _agent(r"manager|supervisor|escalat|website team|purchasing (?:department|team)|internal team|"
                          r"write (?:up )?a report|report (?:this|it) to|notif(?:y|ied)"),
    "ask-the-oracle": _agent(r"(?:let me|i'?ll|i will|allow me to) (?:check|look|verify|confirm|see|query)|"
                             r"\bchecking\b|(?:system|records?) (?:shows?|says?|indicates?)|"
                             r"according to (?:our|the) (?:system|records)"
                             r"|i (?:can )?see (?:that|here|on)|it (?:looks|seems) like|looking into"),
    "promo-code": _agent(r"(?:promo(?:tional)?|discount|coupon) code\b.{0,40}(?:is|:|for you)|(?:here'?s|here is|i'?ve "
                         r"(?:generated|created|sent)|i have (?:generated|created|sent)|"
                         r"i (?:can|will|'ll) (?:give|offer|"
                         r"send|generate))\b.{0,30}(?:code|coupon|discount|\d+ ?% off)|\d+ ?% off"),
    "make-purchase": _agent(r"(?:purchase|order)\b.{0,40}\b(?:placed|made|completed?|processed|submitted|went through)|"
                            r"(?:placed|made|completed|submitted) (?:the|your|a|an) (?:new )?(?:order|purchase)|"
                            r"i(?:'ve| have| will|'ll) (?:place|make|process|order|purchase)|back-?order"),
    "try-again": _instruct(r"try\b.{0,40}\bagain|try (?:it|that|this) once more|retry|re-?enter|refresh|reload|"
                           r"search (?:for )?(?:something|a different|another)|add (?:it|the item) again"),
    "log-out-in": _instruct(r"log(?:ging)? ?(?:out|off|back in)|sign(?:ing)? ?(?:out|off|back in)|re-?log"),
    "instructions": _instruct(r"cookies|cache|clos(?:e|ing) (?:all )?(?:the )?(?:other )?(?:tabs|programs|windows|"
                              r"apps)|browser settings|clear(?:ing)? (?:your|the|out)"),
    "end-conversation": _agent_says(re.compile(r"(?:unfortunately|i'?m sorry|apologi[sz]e)\b.{0,120}(?:can'?t|cannot|"
                                               r"can not|unable|not able|won'?t be able)", _I), negatable=False),
    "search-faq": _agent_says(re.compile(r"let me (?:check|look|search|find|see)|one moment|give me a (?:moment|sec)|"
                                         r"\bchecking\b|look(?:ing)? (?:into|up)|\bfaq\b|"
                                         r"\bour (?:site|website|policy|page)",
                                         _I), statements_only=False),
    "select-faq": _select_faq,
    **{f"search-{topic}": _topic_rule(topic) for topic in TOPIC_WORDS},
}
_STOP = frozenset("the a an to of and or in on up out for with your their".split())


@functools.lru_cache(maxsize=256)
def _label_rule(label: str, minimum: int) -> Rule:
    """Fallback: an agent statement that uses every content word of the step's label (at least ``minimum``)."""
    stems = [w[:5] for w in words(label) if len(w) > 2 and w not in _STOP]
    if not stems or len(stems) < minimum:
        return lambda turn, facts, ctx: None
    return _agent_says(re.compile("^" + "".join(rf"(?=.*\b{re.escape(s)})" for s in stems), _I))


def detect(turn: Turn | None, facts: Facts, steps: dict[str, str], done: frozenset[str]) -> dict[str, str]:
    """Steps (id -> evidence) that the conversation now shows as done, among ``steps`` (id -> label) not yet done.

    ``turn`` is None to re-check the facts alone (after a procedure switch). A multi-word label's words
    said by the agent also count (the fallback). ``select-faq`` implies the FAQ search and the topic; a
    topic is re-checked once the search is done.
    """
    ctx = Context(frozenset(steps), done)
    found: dict[str, str] = {}
    for step_id, label in steps.items():
        if step_id in done:
            continue
        rule = RULES.get(step_id)
        evidence = rule(turn, facts, ctx) if rule else None
        evidence = evidence or _label_rule(label, 2 if rule else 1)(turn, facts, ctx)
        if evidence:
            found[step_id] = evidence
    if "select-faq" in found:
        implied = [s for s in steps if s == "search-faq" or topic_of(s)]
        if sum(map(bool, map(topic_of, implied))) <= 1:  # one FAQ topic: the answer was found under it
            for step_id in implied:
                if step_id not in done:
                    found.setdefault(step_id, f"implied by the FAQ answer ({found['select-faq']})")
    if "search-faq" in found:
        after = Context(ctx.step_ids, done | {"search-faq"})
        for step_id in steps:
            if topic_of(step_id) and step_id not in done and step_id not in found:
                if evidence := RULES[step_id](turn, facts, after):
                    found[step_id] = evidence
    return found
