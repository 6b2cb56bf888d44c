"""The batched skip-gram step: window pairs, noise distribution, and gradients checked against autograd."""

import pytest
import torch

from w2v.sgns import noise_distribution, sample_noise, skipgram_step, stable_batch_size, window_mask


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


def test_noise_follows_counts_to_the_three_quarters():
    counts = torch.tensor([1000, 100, 10, 1])
    table = noise_distribution(counts)
    expected = counts.double() ** 0.75 / (counts.double() ** 0.75).sum()
    assert torch.diff(table, prepend=torch.zeros(1)).tolist() == pytest.approx(expected.tolist())
    draws = sample_noise(table, (400_000,), torch.Generator().manual_seed(0))
    observed = torch.bincount(draws, minlength=4).double() / len(draws)
    assert observed.tolist() == pytest.approx(expected.tolist(), abs=0.003)


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


def test_batch_is_capped_where_one_row_would_take_too_many_updates():
    counts = torch.tensor([1000.0] + [1.0] * 999)
    keep = torch.ones(1000)
    noise = noise_distribution(counts)
    small_vocabulary = stable_batch_size(keep, counts, noise, negative=5, largest=100_000)
    flat = stable_batch_size(
        torch.ones(1000), torch.ones(1000), noise_distribution(torch.ones(1000)), 5, 100_000
    )
    assert small_vocabulary < 1000 < flat
    assert stable_batch_size(keep, counts, noise, negative=5, largest=10) == 64
