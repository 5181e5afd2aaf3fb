"""BM25 and reciprocal-rank fusion: known answers on tiny inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assist.replies.search import (
    BM25,
    reciprocal_rank,
    reciprocal_rank_fusion,
    rrf_matrix,
    tokenize,
    top_k_credit,
)


def test_tokenize_lowercases_drops_stop_words_and_keeps_unicode_and_digits() -> None:
    assert tokenize("Where is MY Order #12345? Ça coûte 5 €") == ["order", "12345", "ça", "coûte", "5"]


def test_rrf_known_scores_and_order() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "c", "d"]], k=60)
    scores = dict(fused)
    assert [item for item, _ in fused] == ["b", "c", "a", "d"]
    assert scores["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert scores["a"] == pytest.approx(1 / 61)
    assert scores["d"] == pytest.approx(1 / 63)


def test_rrf_ties_are_broken_by_the_best_single_rank_then_the_first_list_then_the_id() -> None:
    # x is 2nd and 5th, y 5th and 2nd: the same fused score, whatever order the floats were added in
    fused = reciprocal_rank_fusion([["a", "x", "c", "d", "y"], ["b", "y", "e", "f", "x"]])
    scores = dict(fused)
    assert scores["x"] == pytest.approx(scores["y"])
    order = [item for item, _ in fused]
    assert order.index("x") < order.index("y")  # the same best rank (2nd): the first list leads
    # z is 1st in one list only; w is 3rd in both: not a tie (1/61 < 2/63), the better fused score wins
    assert [i for i, _ in reciprocal_rank_fusion([["z", "p", "w"], ["q", "r", "w"]])][0] == "w"
    # a near-tie from a float's last bit is a tie: the better single rank decides, not the noise
    noisy = reciprocal_rank_fusion([["n", "m"], ["m", "n"]], weights=[1.0, 1.0 + 1e-13])
    assert noisy[0][1] != noisy[1][1] and [i for i, _ in noisy] == ["n", "m"]
    # identical inputs in another id order: the same fused order
    assert reciprocal_rank_fusion([["k1", "k2"], ["k2", "k1"]]) == reciprocal_rank_fusion([["k1", "k2"], ["k2", "k1"]])
    assert [i for i, _ in reciprocal_rank_fusion([["u"], ["v"]])] == ["u", "v"]


def test_rrf_weights_change_the_winner_and_are_checked() -> None:
    fused = reciprocal_rank_fusion([["a", "b"], ["b", "a"]], k=1, weights=[3.0, 1.0])
    assert fused[0][0] == "a"
    assert reciprocal_rank_fusion([]) == []
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([["a"]], weights=[1.0, 2.0])


def test_bm25_matches_the_okapi_formula() -> None:
    docs = ["refund my order", "track my package", "refund refund policy for order"]
    bm25 = BM25(docs)
    scores = bm25.scores("refund")
    n, df, avg = 3, 2, (2 + 2 + 4) / 3  # tokens: [refund, order], [track, package], [refund, refund, policy, order]
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))

    def okapi(tf: int, length: int) -> float:
        return idf * tf * 2.5 / (tf + 1.5 * (0.25 + 0.75 * length / avg))

    assert scores == pytest.approx([okapi(1, 2), 0.0, okapi(2, 4)])


def test_bm25_top_ranks_the_relevant_document_and_skips_non_matches() -> None:
    docs = ["how do I reset my password", "where is my package", "cancel my subscription please"]
    bm25 = BM25(docs)
    assert bm25.top("my package still has not arrived", k=3) == [1]
    assert bm25.top("I forgot my password, need a reset", k=2) == [0]
    assert bm25.top("the and of", k=3) == []
    assert isinstance(bm25.scores(["package", "package"]), np.ndarray)
    assert bm25.scores(["package", "package"])[1] == pytest.approx(2 * bm25.scores("package")[1])
    assert len(bm25) == 3


def test_bm25_empty_corpus_and_empty_documents() -> None:
    assert BM25([]).scores("anything").shape == (0,)
    assert BM25(["", "the"]).top("refund") == []


def test_top_k_credit_and_reciprocal_rank_count_ties_as_a_random_draw() -> None:
    scores = np.array([[0.9, 0.5, 0.1], [0.2, 0.2, 0.2], [0.1, 0.3, 0.2]])
    true_col = np.array([0, 1, 0])
    assert top_k_credit(scores, true_col, 1) == pytest.approx([1.0, 1 / 3, 0.0])
    assert top_k_credit(scores, true_col, 2) == pytest.approx([1.0, 2 / 3, 0.0])
    assert reciprocal_rank(scores, true_col) == pytest.approx([1.0, (1 + 1 / 2 + 1 / 3) / 3, 1 / 3])


def test_rrf_matrix_fuses_rows_and_ignores_zero_lexical_scores() -> None:
    lexical = np.array([[0.0, 2.0, 1.0]])
    dense = np.array([[0.9, 0.1, 0.5]])
    fused = rrf_matrix(lexical, dense, k=60)
    assert fused[0] == pytest.approx([1 / 61, 1 / 61 + 1 / 63, 1 / 62 + 1 / 62])
    assert int(np.argmax(fused[0])) == 1  # 1/61 + 1/63 > 2/62
