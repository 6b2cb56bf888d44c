"""Noise words: the alias tables encode counts**0.75 (or --noise-power) exactly, draws follow it,
and a subword model draws by fastText's counts**0.5 unless told otherwise."""

import numpy as np
import pytest
import torch

from w2v.training.noise import NoiseSampler, _alias_tables, noise_probabilities


def implied_distribution(acceptance: np.ndarray, alias: np.ndarray) -> np.ndarray:
    """The chance of each word under the tables: its own slot's share plus what others alias to it."""
    size = len(acceptance)
    chances = acceptance / size
    np.add.at(chances, alias, (1.0 - acceptance) / size)
    return chances


@pytest.mark.parametrize("seed", range(5))
def test_alias_tables_encode_the_distribution_exactly(seed):
    counts = np.random.default_rng(seed).zipf(1.3, size=5000).clip(max=10**9)
    probabilities = noise_probabilities(counts)
    acceptance, alias = _alias_tables(probabilities)
    assert ((acceptance >= 0) & (acceptance <= 1 + 1e-12)).all()
    np.testing.assert_allclose(implied_distribution(acceptance, alias), probabilities, rtol=1e-9)


@pytest.mark.parametrize("chunk", [1 << 20, 999])
@pytest.mark.parametrize("power", [0.75, 1.0, 0.0, -0.5])
def test_noise_follows_counts_to_the_power(monkeypatch, chunk, power):
    monkeypatch.setattr("w2v.training.noise.SAMPLE_CHUNK", chunk)
    counts = np.array([1000, 100, 10, 1])
    expected = counts**power / (counts**power).sum()
    sampler = NoiseSampler(counts, power=power) if power != 0.75 else NoiseSampler(counts)
    assert sampler.probabilities.tolist() == pytest.approx(expected.tolist())
    draws = sampler.sample((400_000,), torch.Generator().manual_seed(0))
    assert draws.dtype == torch.int64 and draws.shape == (400_000,)
    observed = torch.bincount(draws, minlength=4).double() / len(draws)
    assert observed.tolist() == pytest.approx(expected.tolist(), abs=0.003)


def test_same_generator_state_gives_the_same_draws():
    sampler = NoiseSampler(np.arange(1, 101))
    first = sampler.sample((50, 5), torch.Generator().manual_seed(7))
    again = sampler.sample((50, 5), torch.Generator().manual_seed(7))
    assert torch.equal(first, again)
    assert first.min() >= 0 and first.max() < 100


@pytest.mark.parametrize(
    "settings, power",
    [
        ({"noise_power": 0.25}, 0.25),
        ({}, 0.75),  # word2vec's
        ({"subwords": True, "bucket": 1000}, 0.5),  # fastText's, with n-grams
        ({"subwords": True, "bucket": 1000, "noise_power": 0.75}, 0.75),
        ({"subwords": True, "maxn": 0}, 0.75),  # words only
    ],
)
def test_training_draws_noise_with_the_configured_power(monkeypatch, tmp_path, settings, power):
    """--noise-power, or its default for the model, reaches the sampler training draws from."""
    import w2v
    from w2v.training import blocks

    powers = []

    class Recording(NoiseSampler):
        def __init__(self, counts, device="cpu", power=0.75):
            powers.append(power)
            super().__init__(counts, device, power)

    monkeypatch.setattr(blocks, "NoiseSampler", Recording)
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c d e f g h\n" * 200)
    config = w2v.TrainConfig(dim=8, epochs=1, threads=1, **settings)
    model = w2v.train([corpus], config, progress=False)
    assert powers == [power]
    assert model.config.noise_power == power  # as the saved settings record it


def test_noise_power_out_of_range_is_refused():
    import w2v
    from w2v.errors import ConfigError

    with pytest.raises(ConfigError, match=r"--noise-power must be in \[-1, 1\], got 1.5"):
        w2v.TrainConfig(noise_power=1.5).validate()
