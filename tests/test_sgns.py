"""The batched skip-gram step: window pairs, noise distribution, and gradients checked against autograd."""

import pytest
import torch

from w2v.training.huffman import huffman_tree
from w2v.training.torch_kernel import InnerNodes, skipgram_step, window_mask


def test_window_mask_marks_exactly_the_reachable_positions_in_the_same_sentence():
    window = 2
    # Five centres; sentence 0 holds the first three words, sentence 1 the last two; padding is -1.
    sentences = torch.tensor([-1, -1, 0, 0, 0, 1, 1, -1, -1])
    reach = torch.tensor([2, 1, 2, 2, 1])
    mask = window_mask(reach, sentences, window)
    # Columns are offsets -2, -1, 0, +1, +2.
    assert mask.int().tolist() == [
        [0, 0, 0, 1, 1],
        [0, 1, 0, 1, 0],
        [1, 1, 0, 0, 0],
        [0, 0, 0, 1, 0],
        [0, 1, 0, 0, 0],
    ]


def test_dynamic_window_makes_near_pairs_more_likely_like_word2vec():
    # word2vec draws each centre's window from 1..W, so offset d is used with probability (W - d + 1) / W.
    window, centres = 5, 200_000
    reach = torch.randint(1, window + 1, (centres,), generator=torch.Generator().manual_seed(0))
    sentences = torch.zeros(centres + 2 * window, dtype=torch.long)
    mask = window_mask(reach, sentences, window).float().mean(0)
    for offset in range(1, window + 1):
        expected = (window - offset + 1) / window
        assert mask[window + offset].item() == pytest.approx(expected, abs=0.005)
        assert mask[window - offset].item() == pytest.approx(expected, abs=0.005)
    assert mask[window].item() == 0


def test_step_applies_the_exact_gradient_of_the_negative_sampling_loss():
    torch.manual_seed(0)
    vocabulary, dim, window, lr = 12, 6, 2, 0.1
    input_vectors, output_vectors = torch.randn(vocabulary, dim), torch.randn(vocabulary, dim)
    words = torch.tensor([0, 3, 5, 7, 3, 9, 2, 4])  # 4 centres with 2 words of context either side
    sentences = torch.tensor([-1, 0, 0, 0, 0, 0, 1, -1])
    reach = torch.tensor([2, 1, 2, 2])
    noise = torch.tensor([[1, 2], [5, 8], [11, 7], [6, 3]])  # the 5 is the centre itself: ignored

    inputs = input_vectors.clone().requires_grad_()
    outputs = output_vectors.clone().requires_grad_()
    expected_loss = torch.zeros((), dtype=torch.float64)
    pairs = 0
    for centre in range(4):
        position = centre + window
        for offset in range(-reach[centre], reach[centre] + 1):
            context = position + offset
            if offset == 0 or sentences[context] != sentences[position]:
                continue
            pairs += 1
            vector = inputs[words[context]]
            expected_loss = expected_loss - torch.nn.functional.logsigmoid(
                vector @ outputs[words[position]]
            )
            for negative in noise[centre]:
                if negative != words[position]:
                    expected_loss = expected_loss - torch.nn.functional.logsigmoid(
                        -(vector @ outputs[negative])
                    )
    expected_loss.backward()

    loss, counted = skipgram_step(
        input_vectors, output_vectors, words, sentences, reach, noise, lr, window
    )
    assert counted == pairs == 10
    assert loss == pytest.approx(expected_loss.item(), rel=1e-5)
    torch.testing.assert_close(input_vectors, inputs.detach() - lr * inputs.grad)
    torch.testing.assert_close(output_vectors, outputs.detach() - lr * outputs.grad)


@pytest.mark.parametrize("negatives", [0, 2])
def test_hierarchical_softmax_step_applies_the_exact_gradient_of_its_loss(negatives):
    torch.manual_seed(1)
    vocabulary, dim, window, lr = 12, 6, 2, 0.1
    input_vectors, output_vectors = torch.randn(vocabulary, dim), torch.randn(vocabulary, dim)
    inner_vectors = torch.randn(vocabulary - 1, dim)
    tree = huffman_tree(list(range(100, 100 - vocabulary, -1)))
    words = torch.tensor([0, 3, 5, 7, 3, 9, 2, 4])
    sentences = torch.tensor([-1, 0, 0, 0, 0, 0, 1, -1])
    reach = torch.tensor([2, 1, 2, 2])
    noise = torch.tensor([[1, 2], [5, 8], [11, 7], [6, 3]])[:, :negatives]

    inputs, outputs, inner = (
        matrix.clone().requires_grad_() for matrix in (input_vectors, output_vectors, inner_vectors)
    )
    expected_loss = torch.zeros((), dtype=torch.float64)
    for centre in range(4):
        position = centre + window
        word = int(words[position])
        for offset in range(-reach[centre], reach[centre] + 1):
            context = position + offset
            if offset == 0 or sentences[context] != sentences[position]:
                continue
            vector = inputs[words[context]]
            for at in range(tree.lengths[word]):  # bit 0 scores high, bit 1 low (word2vec's sign)
                sign = 1.0 - 2.0 * float(tree.codes[word, at])
                score = vector @ inner[int(tree.points[word, at])]
                expected_loss = expected_loss - torch.nn.functional.logsigmoid(sign * score)
            if negatives:
                expected_loss = expected_loss - torch.nn.functional.logsigmoid(
                    vector @ outputs[word]
                )
                for negative in noise[centre]:
                    if negative != word:
                        expected_loss = expected_loss - torch.nn.functional.logsigmoid(
                            -(vector @ outputs[negative])
                        )
    expected_loss.backward()

    loss, counted = skipgram_step(
        input_vectors,
        output_vectors,
        words,
        sentences,
        reach,
        noise,
        lr,
        window,
        inner=InnerNodes(inner_vectors, *tree.to_torch()),
    )
    assert counted == 10
    assert loss == pytest.approx(expected_loss.item(), rel=1e-5)
    torch.testing.assert_close(input_vectors, inputs.detach() - lr * inputs.grad)
    torch.testing.assert_close(inner_vectors, inner.detach() - lr * inner.grad)
    expected_outputs = outputs.detach() - lr * outputs.grad if negatives else outputs.detach()
    torch.testing.assert_close(output_vectors, expected_outputs)


def test_rows_used_more_than_the_cap_get_their_mean_update_times_the_cap():
    torch.manual_seed(1)
    vocabulary, dim, window = 6, 4, 1
    input_vectors, output_vectors = torch.randn(vocabulary, dim), torch.randn(vocabulary, dim)
    # Word 0 is the centre of 8 pairs of 2 (16 uses) and a context 14 times; word 5 is one noise draw.
    words = torch.tensor([1, 0, 0, 0, 0, 0, 0, 0, 0, 2])
    sentences = torch.zeros(10, dtype=torch.long)
    reach = torch.ones(8, dtype=torch.long)
    noise = torch.tensor([[5]] + [[4]] * 7)

    def updates(cap):
        inputs, outputs = input_vectors.clone(), output_vectors.clone()
        skipgram_step(inputs, outputs, words, sentences, reach, noise, 0.05, window, cap)
        return inputs - input_vectors, outputs - output_vectors

    exact_inputs, exact_outputs = updates(float("inf"))
    capped_inputs, capped_outputs = updates(4.0)
    torch.testing.assert_close(capped_outputs[0], exact_outputs[0] * 4 / 16)
    torch.testing.assert_close(capped_outputs[4], exact_outputs[4] * 4 / 14)
    torch.testing.assert_close(capped_outputs[5], exact_outputs[5])
    torch.testing.assert_close(capped_inputs[0], exact_inputs[0] * 4 / 14)  # 14 uses as a context
    torch.testing.assert_close(capped_inputs[1], exact_inputs[1])
