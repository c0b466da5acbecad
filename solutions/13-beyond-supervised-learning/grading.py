"""Hidden tests of lesson 13: k-means, scaled dot-product attention and multi-head attention.

All three are NumPy-only exercises: the student's answers run where only NumPy exists.
They are judged here against references computed here: Lloyd's algorithm in NumPy and
scikit-learn's KMeans, Keras's `ops.dot_product_attention`, and a
`keras.layers.MultiHeadAttention` holding the same random weights as the student's call.
"""

import keras
import numpy as np
from sklearn.cluster import KMeans

from autograder.hidden import array, close, shape, test, true, unchanged_call


def _numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


def _pair(reply, what: str):
    true(isinstance(reply, (list, tuple)) and len(reply) == 2, f"{what} should return a pair (two arrays)")
    return reply


# ------------------------------------------------------------------------ exercise 1: k-means


def reference_kmeans(x, centroids, iterations=100):
    centroids = np.array(centroids, dtype=float)

    def nearest(c):
        return np.argmin(((x[:, None, :] - c[None, :, :]) ** 2).sum(axis=2), axis=1)

    labels = None
    for _ in range(iterations):
        assigned = nearest(centroids)
        if labels is not None and np.array_equal(assigned, labels):
            break
        labels = assigned
        for j in range(len(centroids)):
            if np.any(labels == j):
                centroids[j] = x[labels == j].mean(axis=0)
    return centroids, nearest(centroids)


def _clusters(rng, n, k, d, spread):
    centres = rng.normal(0.0, 6.0, size=(k, d))
    return centres[rng.integers(k, size=n)] + rng.normal(0.0, spread, size=(n, d))


def _check_kmeans(student, x, start, what, iterations=None):
    kwargs = {} if iterations is None else {"iterations": iterations}
    got = _pair(unchanged_call(student, "kmeans", x, start, **kwargs), what)
    want_c, want_l = reference_kmeans(x, start, **kwargs)
    close(got[0], want_c, f"the centroids of {what}", rtol=1e-7, atol=1e-8)
    labels = shape(got[1], want_l.shape, f"the labels of {what}")
    true(np.array_equal(labels, want_l), f"the labels of {what} are not each point's nearest final centroid")


@test("test_kmeans", numpy_only=True)
def kmeans_on_the_worked_examples(student, rng):
    points = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 10.0], [10.0, 11.0]])
    _check_kmeans(student, points, np.array([[0.0, 0.0], [10.0, 10.0]]), "two pairs of points")
    _check_kmeans(student, points[:2], np.array([[0.0, 0.0], [100.0, 100.0]]), "a centroid no point chooses")
    _check_kmeans(student, points, np.array([[0.0, 0.0], [0.0, 1.0]]), "one round (iterations=1)", iterations=1)


@test("test_kmeans", numpy_only=True)
def kmeans_follows_lloyd_on_new_data(student, rng):
    for _ in range(4):
        n, k, d = int(rng.integers(40, 200)), int(rng.integers(2, 7)), int(rng.integers(1, 6))
        x = _clusters(rng, n, k, d, spread=float(rng.uniform(0.5, 4.0)))
        start = x[rng.choice(n, k, replace=False)] + rng.normal(0.0, 0.1, size=(k, d))
        _check_kmeans(student, x, start, f"{n} points in {d} dimensions, k = {k}")
        rounds = int(rng.integers(1, 4))
        _check_kmeans(student, x, start, f"{n} points, k = {k}, iterations={rounds}", iterations=rounds)
    # a start that leaves one centroid without points: it must stay where it was
    x = _clusters(rng, 60, 2, 3, spread=0.5)
    start = np.vstack([x[:2], [[500.0, 500.0, 500.0]]])
    _check_kmeans(student, x, start, "60 points with one centroid far away")


@test("test_kmeans", numpy_only=True)
def kmeans_agrees_with_scikit_learn(student, rng):
    x = _clusters(rng, 400, 5, 8, spread=2.0)
    start = x[rng.choice(400, 5, replace=False)]
    lloyd = KMeans(5, init=start, n_init=1, algorithm="lloyd", tol=0, max_iter=300).fit(x)
    got = _pair(student.call("kmeans", x, start, iterations=300), "kmeans on 400 points in 8 dimensions")
    close(got[0], lloyd.cluster_centers_, "the centroids on 400 points in 8 dimensions, k = 5", rtol=1e-6, atol=1e-7)
    true(
        np.array_equal(array(got[1], "the labels", dtype=float), lloyd.labels_),
        "the labels on 400 points in 8 dimensions, k = 5 are not right",
    )


# ------------------------------------------------------------------------ exercise 2: attention


def reference_attention(q, k, v, mask=None):
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -1e9)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ v, weights


@test("test_attention", numpy_only=True)
def softmax_is_stable(student, rng):
    scores = rng.normal(size=(3, 4, 5)) * 50 + 800
    want = np.exp(scores - scores.max(axis=-1, keepdims=True))
    close(student.call("softmax", scores), want / want.sum(axis=-1, keepdims=True), "softmax of large scores")
    want = np.exp(scores - scores.max(axis=0, keepdims=True))
    close(student.call("softmax", scores, axis=0), want / want.sum(axis=0, keepdims=True), "softmax along axis 0")


@test("test_attention", numpy_only=True)
def attention_matches_keras(student, rng):
    for batch, t_q, t_k, d_k, d_v in [(1, 1, 3, 2, 2), (2, 5, 7, 4, 3), (3, 6, 6, 8, 8), (2, 9, 4, 16, 5)]:
        q, k = rng.normal(size=(batch, t_q, d_k)), rng.normal(size=(batch, t_k, d_k))
        v = rng.normal(size=(batch, t_k, d_v))
        what = f"attention with q {q.shape}, k {k.shape}, v {v.shape}"
        out, weights = _pair(student.call("scaled_dot_product_attention", q, k, v), what)
        want_out, want_weights = reference_attention(q, k, v)
        close(out, want_out, f"the output of {what}", rtol=1e-6, atol=1e-9)
        close(weights, want_weights, f"the weights of {what}", rtol=1e-6, atol=1e-9)
        if d_v == d_k:  # Keras's own attention (on JAX it wants v as deep as q and k)
            keras_out = _numpy(keras.ops.dot_product_attention(*(a[:, :, None].astype("float32") for a in (q, k, v))))
            close(out, keras_out[:, :, 0], f"the output of {what}, against Keras", rtol=1e-4, atol=1e-5)


@test("test_attention", numpy_only=True)
def attention_with_masks_and_heads(student, rng):
    q, k, v = rng.normal(size=(2, 3, 5, 4)), rng.normal(size=(2, 3, 6, 4)), rng.normal(size=(2, 3, 6, 2))
    mask = rng.random((2, 1, 5, 6)) > 0.5  # one mask for every head: it must broadcast
    mask[..., int(rng.integers(6))] = True
    what = "attention over 3 heads with a (2, 1, 5, 6) mask"
    out, weights = _pair(student.call("scaled_dot_product_attention", q, k, v, mask), what)
    want_out, want_w = reference_attention(q, k, v, mask)
    close(weights, want_w, f"the weights of {what}", rtol=1e-6, atol=1e-9)
    close(out, want_out, f"the output of {what}", rtol=1e-6, atol=1e-9)
    causal = np.tril(np.ones((5, 5), dtype=bool))  # each position sees itself and the earlier ones
    x = rng.normal(size=(1, 5, 3)) * 10
    out, weights = _pair(student.call("scaled_dot_product_attention", x, x, x, causal), "causal self-attention")
    close(
        weights,
        reference_attention(x, x, x, causal)[1],
        "the weights of causal self-attention on large inputs",
        rtol=1e-6,
        atol=1e-9,
    )


# ------------------------------------------------------------------------ exercise 3: multi-head


def _layer(rng, d, heads, key_dim, value_dim=None, output_shape=None):
    layer = keras.layers.MultiHeadAttention(
        num_heads=heads, key_dim=key_dim, value_dim=value_dim, output_shape=output_shape
    )
    layer(np.zeros((1, 2, d), "float32"), np.zeros((1, 3, d), "float32"))
    layer.set_weights([rng.normal(0.0, 0.5, size=w.shape).astype("float32") for w in layer.get_weights()])
    return layer


@test("test_multi_head_attention", numpy_only=True)
def multi_head_attention_matches_keras(student, rng):
    cases = [
        (6, 2, 3, None, None, 2, 4, 6),
        (8, 4, 2, None, None, 1, 5, 5),
        (5, 3, 4, 2, None, 2, 3, 7),
        (4, 1, 4, None, 6, 3, 2, 2),
        (10, 5, 2, 3, 7, 1, 6, 4),
    ]
    for d, heads, key_dim, value_dim, out_dim, batch, t_q, t_v in cases:
        layer = _layer(rng, d, heads, key_dim, value_dim, out_dim)
        query = rng.normal(size=(batch, t_q, d)).astype("float32")
        value = query if t_q == t_v else rng.normal(size=(batch, t_v, d)).astype("float32")
        what = f"{heads} heads of key_dim {key_dim} on query {query.shape} and value {value.shape}"
        out, scores = _pair(student.call("multi_head_attention", query, value, layer.get_weights()), what)
        want_out, want_scores = (_numpy(t) for t in layer(query, value, return_attention_scores=True))
        close(scores, want_scores, f"the attention scores of {what}", rtol=1e-4, atol=1e-6)
        close(out, want_out, f"the output of {what}", rtol=1e-4, atol=1e-4)


@test("test_multi_head_attention", numpy_only=True)
def multi_head_attention_with_a_mask(student, rng):
    layer = _layer(rng, 6, 3, 2)
    query, value = rng.normal(size=(2, 4, 6)).astype("float32"), rng.normal(size=(2, 5, 6)).astype("float32")
    mask = rng.random((2, 4, 5)) > 0.5
    mask[:, :, int(rng.integers(5))] = True
    what = "3 heads with a (2, 4, 5) mask"
    out, scores = _pair(student.call("multi_head_attention", query, value, layer.get_weights(), mask), what)
    want_out, want_scores = (_numpy(t) for t in layer(query, value, attention_mask=mask, return_attention_scores=True))
    close(scores, want_scores, f"the attention scores of {what}", rtol=1e-4, atol=1e-6)
    close(out, want_out, f"the output of {what}", rtol=1e-4, atol=1e-4)
