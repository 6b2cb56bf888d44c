"""A small text classifier on pretrained word vectors: frozen pretrained layer versus frozen random one.

The task: say which kind of thing a sentence mentions (a colour, an animal, a fruit, a tool, an
instrument or a sport) from only a few labelled sentences. Vectors trained on unlabelled text of the
synthetic language place the members of each kind together, so the classifier also gets right the
words it never saw labelled; random vectors give it nothing to go on for those.

    python examples/classify.py
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import torch

import w2v
from corpora import synthetic

KINDS = list(synthetic.GROUPS)
# The synthetic language's most frequent words, which say nothing about the kind.
FILLER = ["the", "of", "and", "a", "in", "to", "was", "that", "for", "it", "with", "as", "on"]


def labelled_sentences(count: int, rng: random.Random) -> tuple[list[str], torch.Tensor]:
    """`count` sentences, each one or two words of one kind among filler words, and their kinds."""
    sentences, labels = [], []
    for index in range(count):
        label = index % len(KINDS)  # balanced, so a few examples cover every kind
        words = rng.choices(FILLER, k=rng.randint(4, 8))
        words += rng.sample(synthetic.GROUPS[KINDS[label]], k=rng.randint(1, 2))
        rng.shuffle(words)
        sentences.append(" ".join(words))
        labels.append(label)
    return sentences, torch.tensor(labels)


def pretrain_vectors(folder: Path, sentences: int, seed: int) -> w2v.KeyedVectors:
    """Word vectors trained on unlabelled text of the synthetic language."""
    corpus = folder / "corpus.txt"
    synthetic.write_corpus(corpus, n_sentences=sentences, seed=seed)
    config = w2v.TrainConfig(dim=50, threads=2, seed=seed)
    model = w2v.train([corpus], config, progress=False)
    model.save(folder / "vectors.bin")
    return w2v.load(folder / "vectors.bin")  # with the tokenizer saved beside the vectors


class BagOfEmbeddings(torch.nn.Module):
    """A linear classifier on the mean of a sentence's word vectors."""

    def __init__(self, embedding: torch.nn.Embedding, classes: int) -> None:
        super().__init__()
        self.embedding = embedding
        self.linear = torch.nn.Linear(embedding.embedding_dim, classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Class scores for a batch x length tensor of ids, padding left out of the mean."""
        words = (ids != self.embedding.padding_idx).sum(dim=1, keepdim=True).clamp(min=1)
        return self.linear(self.embedding(ids).sum(dim=1) / words)  # the padding row is zero


def accuracy_with(
    embedding: torch.nn.Embedding,
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    steps: int = 300,
) -> float:
    """Test accuracy of a BagOfEmbeddings on `embedding` trained on the labelled `train` ids."""
    classifier = BagOfEmbeddings(embedding, len(KINDS))
    trainable = [parameter for parameter in classifier.parameters() if parameter.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=0.05)
    ids, labels = train
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(classifier(ids), labels).backward()
        optimizer.step()
    ids, labels = test
    with torch.no_grad():
        return (classifier(ids).argmax(dim=1) == labels).float().mean().item()


def main(
    labelled_per_kind: int = 5, test_size: int = 1200, sentences: int = 10_000, seed: int = 0
) -> tuple[float, float]:
    """Print and return the test accuracy with pretrained frozen vectors and with random ones."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    train_sentences, train_labels = labelled_sentences(labelled_per_kind * len(KINDS), rng)
    test_sentences, test_labels = labelled_sentences(test_size, rng)
    with tempfile.TemporaryDirectory() as folder:
        kv = pretrain_vectors(Path(folder), sentences, seed)

    train = kv.encode(train_sentences), train_labels
    test = kv.encode(test_sentences), test_labels
    pretrained = accuracy_with(kv.to_embedding(freeze=True), train, test)
    # The same layout and size, initialised as torch initialises any embedding layer.
    random_layer = torch.nn.Embedding(len(kv) + 2, kv.dim, padding_idx=0).requires_grad_(False)
    random_accuracy = accuracy_with(random_layer, train, test)

    print(f"{len(train_labels)} labelled sentences, {test_size} test sentences")
    print(f"pretrained frozen vectors: accuracy {pretrained:.3f}")
    print(f"random frozen vectors:     accuracy {random_accuracy:.3f}")
    return pretrained, random_accuracy


if __name__ == "__main__":
    main()
